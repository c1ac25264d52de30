"""``rewards run`` as a person types it: a subprocess, its exit code and what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sandbox import SandboxServer
from tests.flows.conftest import recipients, write_csv

ROOT = Path(__file__).resolve().parents[2]


def rewards(*args: str, env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "deployments.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_dry_run_prints_the_cost_and_the_rows_sent_before(
    prefect_server: str, sandbox: SandboxServer, tmp_path: Path, campaign: str
) -> None:
    env = {
        **os.environ,
        **sandbox.tango_env(),
        "PREFECT_API_URL": prefect_server,
        "REWARDS_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "REWARDS_REPORTS_DIR": str(tmp_path / "reports"),
    }
    first = write_csv(tmp_path / "first.csv", recipients(campaign, 2))
    code, out = rewards("run", str(first), env=env)
    assert code == 0, out
    assert "Completed: 2 sent" in out
    bigger = write_csv(tmp_path / "bigger.csv", recipients(campaign, 5))
    code, out = rewards("run", str(bigger), "--dry-run", env=env)
    assert code == 0, out
    assert "dry run: 3 would be sent, 2 sent before" in out
    assert "3 row(s) to send for 15.00 USD; balance" in out
    assert "rows sent before (2):" in out
    assert "row 2: sent before in batch" in out and "first.csv" in out and "COMPLETE" in out
