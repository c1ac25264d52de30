"""A small slice of the chaos campaign: the flow in its own process, faults on, killed at
chosen or random moments and started again (on the same file, or on another holding the same
rows); every valid row ends with exactly one line item at Tango,
and the money Tango moved equals what the ledger recorded."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from proof.chaos import campaign, table
from sandbox import SandboxConfig, SandboxServer


def test_chaos_slice(tmp_path: Path, prefect_server: str) -> None:
    config = SandboxConfig(db_path=tmp_path / "sb.db", fulfil_latency_s=0.02)
    with SandboxServer(config) as sandbox:
        sandbox.engine.fund_account("sandbox-usd", Decimal(10_000))
        records = campaign(
            4, seed=7, sandbox=sandbox, prefect_api_url=prefect_server, work=tmp_path
        )
    totals = table(records)
    assert totals["runs"] == 4
    # each scenario once: killed after Tango's first order (then the same file, then another
    # file holding the same rows and more), killed while paused for approval, at random
    assert [r.scenario for r in records] == ["first order", "other file", "paused", "random"]
    assert all(r.killed for r in records[:3])
    assert records[1].valid > records[1].rows - 20  # the other file's extra rows are counted
    assert totals["duplicates found"] == 0
    assert totals["rows lost"] == 0
    assert totals["unbalanced / unfinished"] == 0
    assert totals["money mismatches"] == 0
    assert all(r.lines_at_tango == r.valid for r in records)
