"""The bad-input corpus (small slice: the big file has 3,000 rows here): each input gets a
clear error or processing with its bad rows rejected; no traceback; no line sent for a
rejected row; every outcome as the corpus expects."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from proof.bad_inputs import campaign, summary
from rewards.ledger import Ledger


def test_corpus(sandbox, client, tmp_path: Path) -> None:
    sandbox.engine.fund_account("sandbox-usd", Decimal(100_000))
    outcomes = campaign(3_000, sandbox, client, Ledger(f"sqlite:///{tmp_path / 'l.db'}"))
    totals = summary(outcomes)
    assert totals["inputs"] >= 40
    assert totals["tracebacks"] == 0, [o.tb for o in outcomes if o.tb]
    assert totals["orders sent for rejected rows"] == 0
    assert totals["not as expected"] == 0, [
        (o.name, o.kind, o.detail) for o in outcomes if not o.as_expected
    ]
    for o in outcomes:
        if o.kind == "error":
            assert o.name in o.detail, o  # the message names the file
        else:
            assert o.sent_lines == o.valid, o  # every valid row sent once, no rejected row
    big = next(o for o in outcomes if o.name.startswith("big_"))
    assert (big.valid, big.rejected) == (2_999, 1)
