"""The bad-input corpus (small slice: the big files have 3,000 rows here), each input in a
process of its own: a clear error or processing with its bad rows rejected; no traceback,
crash or hang; no process over the memory cap; no line sent for a rejected row and no unsafe
value sent; no message quoting the file; every outcome as the corpus expects."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from proof.bad_inputs import MEMORY_CAP_MIB, campaign, summary


def test_corpus(sandbox, client, tmp_path: Path) -> None:
    sandbox.engine.fund_account("sandbox-usd", Decimal(100_000))
    outcomes = campaign(3_000, sandbox, client.settings, f"sqlite:///{tmp_path / 'l.db'}")
    totals = summary(outcomes)
    assert totals["inputs"] >= 70
    assert totals["tracebacks"] == 0, [o.tb for o in outcomes if o.tb]
    for key in ("crashes", "hangs", "processes over the memory cap", "messages quoting the file"):
        assert totals[key] == 0, (key, [(o.name, o.detail) for o in outcomes])
    assert totals["unsafe values sent"] == 0, [(o.name, o.unsafe) for o in outcomes if o.unsafe]
    assert totals["orders sent for rejected rows"] == 0
    assert totals["not as expected"] == 0, [
        (o.name, o.kind, o.rejected, o.warnings, o.detail) for o in outcomes if not o.as_expected
    ]
    for o in outcomes:
        assert o.peak_mib < MEMORY_CAP_MIB, o
        if o.kind == "error" and o.case and o.case.via == "source":
            assert o.name in o.detail, o  # the message names the file
        elif o.kind == "rows":
            assert o.sent_lines == o.valid, o  # every valid row sent once, no rejected row
    big = next(o for o in outcomes if o.name.startswith("big_"))
    assert (big.valid, big.rejected) == (2_999, 1)
