"""A batch killed with ``kill -9`` loses no row to the next file that contains it, and sends
nothing twice: ``rewards run`` as a subprocess, killed at chosen moments, then another run,
on SQLite and on PostgreSQL. Tango's own state (the sandbox's database) is the judge."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from proof.postgres import fresh_database
from sandbox import SandboxServer
from tests.flows.conftest import recipients, write_csv
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
LEASE_S = "5"  # short leases, so a takeover happens within the test


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        with fresh_database() as url:
            yield url


@pytest.fixture
def cli_env(
    prefect_server: str, sandbox: SandboxServer, ledger_url: str, tmp_path: Path
) -> dict[str, str]:
    return {
        **os.environ,
        **sandbox.tango_env(),
        "PREFECT_API_URL": prefect_server,
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "TANGO_TIMEOUT_SECONDS": "1",
        "REWARDS_LEDGER_URL": ledger_url,
        "REWARDS_REPORTS_DIR": str(tmp_path / "reports"),
        "REWARDS_LEASE_SECONDS": LEASE_S,
        "REWARDS_TAKEOVER_GRACE_SECONDS": "2",
    }


def faults(sandbox: SandboxServer, **settings: object) -> None:
    sandbox.admin.post("/faults", json=settings).raise_for_status()


def start(path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "deployments.cli", "run", str(path), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen[bytes], timeout: float = 120) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(errors="replace")


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def planned_orders(ledger_url: str) -> int:
    engine = create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT COUNT(*) FROM orders WHERE state = 'planned'")
            ).scalar_one()
    except Exception:  # the ledger's tables do not exist yet
        return 0
    finally:
        engine.dispose()


def tango_lines(sandbox: SandboxServer, campaign: str) -> pd.DataFrame:
    with sandbox.engine.store.tx() as c:
        rows = c.execute(
            "SELECT l.external_ref_line_item_id AS id, o.external_ref_id AS ref "
            "FROM line_items l JOIN orders o ON o.reference_order_id = l.reference_order_id "
            "WHERE o.campaign = ?",
            (campaign,),
        ).fetchall()
    return pd.DataFrame([dict(r) for r in rows], columns=["id", "ref"])


def report_of(out: str) -> pd.DataFrame:
    folder = next(
        line.split()[-1] for line in out.splitlines() if line.strip().startswith("report_dir")
    )
    return pd.read_csv(Path(folder) / "report.csv", dtype=str, keep_default_na=False)


def kill_once_planned(path: Path, env: dict[str, str], ledger_url: str) -> None:
    """Run A with every POST /asyncOrders refused (nothing reaches Tango) and kill it as soon
    as the ledger holds its orders as planned."""
    proc = start(path, env, "--chunk", "10")
    wait_for(lambda: planned_orders(ledger_url) or proc.poll() is not None, timeout=60)
    assert proc.poll() is None, finish(proc)[1]
    kill(proc)


def test_crash_then_a_different_file_loses_nothing(
    cli_env: dict[str, str], ledger_url: str, sandbox: SandboxServer, campaign: str, tmp_path: Path
) -> None:
    rows = recipients(campaign, 30)
    faults(sandbox, orders_before_outage=0)
    kill_once_planned(write_csv(tmp_path / "a.csv", rows), cli_env, ledger_url)
    faults(sandbox)
    assert tango_lines(sandbox, campaign).empty  # A's orders never reached Tango

    b = write_csv(tmp_path / "b.csv", [*rows, *recipients(campaign, 1, start=30)])
    code, out = finish(start(b, cli_env))
    assert code == 0, out
    lines = tango_lines(sandbox, campaign)
    assert len(lines) == 31 and lines["id"].is_unique  # A's 30 rows taken over, once
    report = report_of(out)
    assert set(report["outcome"]) == {"complete"}, report["reason"].tolist()


def test_crash_then_the_same_file_sends_nothing_twice(
    cli_env: dict[str, str], ledger_url: str, sandbox: SandboxServer, campaign: str, tmp_path: Path
) -> None:
    a = write_csv(tmp_path / "a.csv", recipients(campaign, 30))
    faults(sandbox, orders_before_outage=0)
    kill_once_planned(a, cli_env, ledger_url)
    faults(sandbox)
    code, out = finish(start(a, cli_env, "--chunk", "10"))
    assert code == 0, out
    lines = tango_lines(sandbox, campaign)
    assert len(lines) == 30 and lines["id"].is_unique and lines["ref"].nunique() == 3


def test_committed_then_killed_is_found_at_tango_and_not_sent_again(
    cli_env: dict[str, str], ledger_url: str, sandbox: SandboxServer, campaign: str, tmp_path: Path
) -> None:
    rows = recipients(campaign, 30)
    # Tango takes A's first order and the answer never comes back before the process dies;
    # A's other orders never reach Tango
    faults(
        sandbox, orders_before_outage=1, drop_next=1, commit_then_drop_mode="delay", drop_delay_s=60
    )
    proc = start(write_csv(tmp_path / "a.csv", rows), cli_env, "--chunk", "10")
    wait_for(lambda: len(tango_lines(sandbox, campaign)) or proc.poll() is not None, timeout=60)
    kill(proc)
    faults(sandbox)
    held_by_a = len(tango_lines(sandbox, campaign))
    assert held_by_a == 10  # one of A's orders is at Tango; the ledger never heard

    b = write_csv(tmp_path / "b.csv", [*rows, *recipients(campaign, 1, start=30)])
    code, out = finish(start(b, cli_env))
    assert code == 0, out
    lines = tango_lines(sandbox, campaign)
    assert len(lines) == 31 and lines["id"].is_unique
    report = report_of(out)
    assert (report["outcome"] == "already_sent").sum() == held_by_a
    assert (report["outcome"] == "complete").sum() == 31 - held_by_a


def test_an_alive_slow_batch_is_not_taken_over(
    cli_env: dict[str, str], ledger_url: str, sandbox: SandboxServer, campaign: str, tmp_path: Path
) -> None:
    rows = recipients(campaign, 60)
    faults(sandbox, latency_ms=600)  # every request slow; A keeps renewing its lease
    a = start(write_csv(tmp_path / "a.csv", rows), cli_env, "--chunk", "1")
    wait_for(lambda: planned_orders(ledger_url) or a.poll() is not None, timeout=60)
    b = write_csv(tmp_path / "b.csv", [*rows, *recipients(campaign, 1, start=60)])
    code_b, out_b = finish(start(b, cli_env))
    code_a, out_a = finish(a)
    assert (code_a, code_b) == (0, 0), out_a + out_b
    lines = tango_lines(sandbox, campaign)
    assert len(lines) == 61 and lines["id"].is_unique
    assert lines["ref"].nunique() == 61  # A's 60 orders and B's one: nothing taken over
    report = report_of(out_b)
    already = report[report["outcome"] == "already_sent"]
    assert len(already) == 60
    assert not already["reason"].str.contains("planned").any()  # only what Tango has
