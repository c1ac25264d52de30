"""``rewards history``'s wording, Prefect-free."""

from __future__ import annotations

from rewards.history import _masked


def test_an_address_in_tangos_reason_for_a_failure_is_masked() -> None:
    said = _masked("mailbox bob.smith@corp.example.com is full; try <ann@x.org>")
    assert "bob.smith@" not in said and "ann@" not in said
    assert "b***@corp.example.com" in said and "is full" in said
