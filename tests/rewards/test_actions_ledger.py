"""The ledger's actions table on SQLite and PostgreSQL: recorded before, settled after, kept."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from rewards.ledger import SCHEMA_VERSION, ActionState, Ledger


@pytest.fixture(params=["sqlite", "postgresql"])
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    if request.param == "sqlite":
        return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    return Ledger(request.getfixturevalue("postgres_url"))


def planned(line: str, action: str = "resend") -> dict[str, str]:
    return {
        "action_id": f"ac-{uuid.uuid4().hex}",
        "account_identifier": "acct",
        "action": action,
        "reference_line_item_id": line,
        "external_ref_line_item_id": "li-1",
        "request_json": json.dumps({"new_email": "x@example.com"}),
        "source_name": "fix.csv",
    }


def test_actions_recorded_then_settled_and_never_undone(book: Ledger) -> None:
    line = f"L-{uuid.uuid4().hex[:8]}"
    one, two = planned(line), planned(line, "cancel")
    rows = book.plan_actions("a-batch", [one, two])
    assert {r.state for r in rows.values()} == {ActionState.PLANNED}
    assert book.attempting(one["action_id"], {"resends": 0}, "run-1", 60)
    assert not book.attempting(one["action_id"], {"resends": 0}, "run-2", 60)  # run-1 holds it
    assert book.attempting(one["action_id"], {"resends": 0}, "run-1", 60)
    book.action_done(one["action_id"], "resent", run_id="run-1", approver="Ada")
    book.action_refused(two["action_id"], 422, "LINE_ITEM_STATUS", run_id="run-1")
    # a rerun records them again: what is done stays done, with its run and approver
    again = book.plan_actions("another-batch", [one, two])
    assert again[one["action_id"]].state is ActionState.DONE
    assert again[one["action_id"]].batch_id == "a-batch"
    assert again[two["action_id"]].state is ActionState.REFUSED
    book.action_refused(one["action_id"], 400, "late", run_id="run-2")  # never undoes done
    history = book.line_actions(line)
    assert [(h.action, h.state) for h in history] == [
        ("resend", ActionState.DONE),
        ("cancel", ActionState.REFUSED),
    ]
    assert history[0].approver == "Ada" and history[0].before == {"resends": 0}


def test_a_ledger_of_an_earlier_version_gains_the_actions_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    book = Ledger(url)
    with book.engine.begin() as conn:
        conn.execute(text("DROP TABLE actions"))
        conn.execute(text("UPDATE ledger_meta SET value='2' WHERE key='schema_version'"))
    book.close()
    book = Ledger(url)
    assert inspect(book.engine).has_table("actions")
    with book.engine.connect() as conn:
        version = conn.execute(
            text("SELECT value FROM ledger_meta WHERE key='schema_version'")
        ).scalar_one()
    assert version == str(SCHEMA_VERSION) == "4"
