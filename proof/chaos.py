"""Chaos campaign: the fulfil-rewards flow, many times, on generated spreadsheets, against the
sandbox with faults switched on at random (5xx, latency, 429 bursts, commit-then-drop) and the
flow's process killed at a random moment, then started again on the same file until it
completes. After each file it checks the sandbox's own state, the ledger and the report.

    .venv/bin/python -m proof.chaos [--runs 50] [--seed 1]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


SCENARIOS = ("first order", "other file", "paused", "random")
# first order: killed right after Tango took its first order, then the same file again
# other file:  killed the same way, then a different file holding the same rows and more
# paused:      killed while waiting for approval, then again, approved
# random:      killed at random moments


@dataclass
class RunRecord:
    run: int
    rows: int
    valid: int
    faults: dict[str, float]
    scenario: str = "random"
    attempts: int = 0
    killed: int = 0
    completed: bool = False
    lines_at_tango: int = 0
    duplicates: int = 0
    lost: int = 0
    unbalanced: int = 0
    money_mismatch: int = 0
    charged: Decimal = Decimal(0)
    notes: list[str] = field(default_factory=list)


def make_file(path: Path, rng: random.Random, campaign: str) -> tuple[int, int]:
    rows = rng.randint(20, 160)
    bad = 0
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Email", "Mobile", "UTID", "Amount", "Delivery Method", "Campaign"])
        for i in range(rows):
            kind = rng.random()
            if kind < 0.1:
                w.writerow([f"c{i}@example.com", "", "U999999", "10", "email", campaign])
                bad += 1
            elif kind < 0.2:
                w.writerow(
                    [
                        "",
                        f"+1415{rng.randrange(2, 10)}{rng.randrange(10**6):06d}",  # real exchange
                        "U100007",
                        "20",
                        "sms",
                        campaign,
                    ]
                )
            elif kind < 0.25:
                w.writerow([f"c{i}@fail.example.com", "", "U100001", "5", "email", campaign])
            else:
                w.writerow(
                    [
                        f"c{i}@example.com",
                        "",
                        rng.choice(["U100001", "U100002"]),
                        rng.choice(["5", "10", "25"]),
                        "email",
                        campaign,
                    ]
                )
    return rows, rows - bad


def extend_file(source: Path, target: Path, campaign: str, extra: int = 5) -> int:
    """``target``: every row of ``source`` and ``extra`` new valid ones; returns ``extra``."""
    lines = source.read_text().splitlines()
    new = [f"more{i}@example.com,,U100001,10,email,{campaign}" for i in range(extra)]
    target.write_text("\n".join([*lines, *new]) + "\n")
    return extra


def random_faults(rng: random.Random) -> dict[str, float]:
    return {
        "seed": rng.randrange(10**6),
        "server_error_rate": round(rng.uniform(0, 0.15), 3),
        "latency_ms": rng.choice([0, 0, 5, 20, 50]),
        "rate_limit_burst_rate": round(rng.uniform(0, 0.1), 3),
        "commit_then_drop_rate": round(rng.uniform(0, 0.3), 3),
        # the flow waits on webhooks (with a fallback poll): lose, repeat and shuffle them
        "webhook_drop_rate": round(rng.uniform(0, 0.5), 3),
        "webhook_duplicate_rate": round(rng.uniform(0, 0.5), 3),
        "webhook_reorder_window_s": round(rng.uniform(0, 1.0), 2),
    }


def tango_state(sandbox_db: Path, campaign: str) -> pd.DataFrame:
    import sqlite3

    with sqlite3.connect(sandbox_db) as c:
        return pd.read_sql_query(
            "SELECT l.external_ref_line_item_id AS id, l.status, l.charged, o.account_identifier "
            "FROM line_items l JOIN orders o ON o.reference_order_id = l.reference_order_id "
            "WHERE o.campaign = ?",
            c,
            params=(campaign,),
        )


def _orders_at_tango(sandbox_db: Path, campaign: str) -> int:
    import sqlite3

    with sqlite3.connect(sandbox_db) as c:
        return c.execute("SELECT COUNT(*) FROM orders WHERE campaign=?", (campaign,)).fetchone()[0]


def _kill_after_first_order(proc: subprocess.Popen, sandbox_db: Path, campaign: str) -> bool:
    """SIGKILL the flow as soon as Tango holds one of its orders (mid-submission)."""
    while proc.poll() is None:
        if _orders_at_tango(sandbox_db, campaign):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return True
        time.sleep(0.02)
    return False


def _paused_since(api: str, name: str, since: float) -> list[str]:
    """Ids of runs named ``name`` that started after ``since`` and wait for approval."""
    runs = httpx.post(
        f"{api}/flow_runs/filter",
        json={"flow_runs": {"name": {"any_": [name]}, "state": {"type": {"any_": ["PAUSED"]}}}},
        timeout=30,
    ).json()
    return [r["id"] for r in runs if r["start_time"] and _epoch(r["start_time"]) >= since]


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _kill_when_paused(proc: subprocess.Popen, api: str, name: str, since: float) -> bool:
    """SIGKILL the flow once it waits for approval."""
    while proc.poll() is None:
        if _paused_since(api, name, since):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return True
        time.sleep(0.2)
    return False


def _approve_when_paused(
    proc: subprocess.Popen, api: str, name: str, since: float
) -> subprocess.Popen:
    """Approve this attempt's run as soon as it asks (what a person does in the UI)."""

    def approve() -> None:
        while proc.poll() is None:
            for run in _paused_since(api, name, since):
                httpx.post(
                    f"{api}/flow_runs/{run}/resume",
                    json={"run_input": {"decision": "approve", "approver": "chaos"}},
                    timeout=30,
                )
            time.sleep(0.2)

    import threading

    threading.Thread(target=approve, daemon=True).start()
    return proc


def run_once(
    record: RunRecord,
    rng: random.Random,
    path: Path,
    env: dict[str, str],
    sandbox_admin: httpx.Client,
    sandbox_db: Path,
    campaign: str,
) -> None:
    """Start the flow, kill it as ``record.scenario`` says (or at a random moment), and start
    again until a run completes."""
    api = env["PREFECT_API_URL"]
    if record.scenario == "paused":
        env = {**env, "REWARDS_APPROVAL_THRESHOLD": "0.01"}  # every run asks a person
    for attempt in range(1, 8):
        record.attempts = attempt
        faults = record.faults if attempt <= 3 else {}  # chaos first, then let it finish
        sandbox_admin.post("/faults", json=faults).raise_for_status()
        since = time.time() - 1
        proc = subprocess.Popen(
            [sys.executable, "-m", "deployments.cli", "run", str(path)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # the process spends ~3 s starting; kills land before, during or after submitting
        kill_at = rng.uniform(2.0, 9.0) if attempt <= 2 and rng.random() < 0.7 else None
        if attempt == 1 and record.scenario != "random":
            if record.scenario == "paused":
                killed = _kill_when_paused(proc, api, path.name, since)
            else:
                killed = _kill_after_first_order(proc, sandbox_db, campaign)
            if killed:
                record.killed += 1
                if record.scenario == "other file":  # the rest comes in another file
                    other = path.with_name(f"{path.stem}-b.csv")
                    extra = extend_file(path, other, campaign)
                    record.rows += extra
                    record.valid += extra
                    path = other
                continue
            kill_at = None
        if record.scenario == "paused":
            _approve_when_paused(proc, api, path.name, since)
            kill_at = None
        try:
            output, _ = proc.communicate(timeout=kill_at or 300)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            record.killed += 1
            continue
        if proc.returncode == 0:
            record.completed = True
            return
        record.notes.append(
            output.decode(errors="replace").strip().splitlines()[-1][:120]
            if output
            else f"exit {proc.returncode}"
        )


def check(record: RunRecord, sandbox_db: Path, campaign: str, ledger_url: str) -> None:
    """Tango's own state against the file and the ledger."""
    from rewards.ledger import Ledger

    tango = tango_state(sandbox_db, campaign)
    record.lines_at_tango = len(tango)
    record.duplicates = int(tango["id"].duplicated().sum())
    record.lost = max(record.valid - tango["id"].nunique(), 0)
    charged = sum((Decimal(x) for x in tango["charged"]), Decimal(0))
    book = Ledger(ledger_url)
    ids = set(tango["id"])
    lines = [li for li in _ledger_lines(book) if li["external_ref_line_item_id"] in ids]
    ledger_charged = sum((Decimal(li["charged"] or "0") for li in lines), Decimal(0))
    if ledger_charged != charged:
        record.money_mismatch += 1
        record.notes.append(f"ledger charged {ledger_charged}, Tango {charged}")
    record.charged = charged


def _ledger_lines(book) -> list[dict]:
    from sqlalchemy import select

    from rewards.ledger import line_items

    with book.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(line_items))]


def campaign(
    runs: int,
    seed: int,
    sandbox,
    prefect_api_url: str,
    work: Path,
) -> list[RunRecord]:
    from contextlib import ExitStack

    from raas import RaasClient, TangoSettings
    from raas.webhooks import new_hmac_key
    from sandbox.config import DEFAULT_PLATFORM_KEY, DEFAULT_PLATFORM_NAME
    from sandbox.server import ThreadedServer
    from webhooks import ReceiverSettings
    from webhooks.app import create_app

    rng = random.Random(seed)
    stack = ExitStack()
    key = new_hmac_key()
    receiver = stack.enter_context(
        ThreadedServer(
            create_app(
                ReceiverSettings(
                    db_path=work / "webhooks.db",
                    hmac_key=key,
                    emit_interval_s=0.2,
                    prefect_api_url=prefect_api_url,
                )
            )
        )
    )
    with RaasClient(
        TangoSettings(
            base_url=sandbox.base_url,
            platform_name=DEFAULT_PLATFORM_NAME,
            platform_key=DEFAULT_PLATFORM_KEY,
        )
    ) as admin:
        admin.create_webhook(receiver.url + "/tango/webhooks", hmac_shared_secret_key=key)
    ledger_url = f"sqlite:///{work / 'ledger.db'}"
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        "PREFECT_LOGGING_LEVEL": "ERROR",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        **sandbox.tango_env(),
        "TANGO_TIMEOUT_SECONDS": "3",
        "REWARDS_LEASE_SECONDS": "10",  # a dead run's rows are taken over after this...
        "REWARDS_TAKEOVER_GRACE_SECONDS": "3",  # ...and this
        "REWARDS_LEDGER_URL": ledger_url,
        "REWARDS_REPORTS_DIR": str(work / "reports"),
        "REWARDS_WEBHOOK_RECEIVER": "true",  # completion_mode auto -> webhooks + fallback poll
    }
    records = []
    for n in range(runs):
        name = f"chaos-{seed}-{n}"
        path = work / f"{name}.csv"
        rows, valid = make_file(path, rng, name)
        record = RunRecord(n, rows, valid, random_faults(rng), SCENARIOS[n % len(SCENARIOS)])
        before = Decimal(str(sandbox.engine.get_account("sandbox-usd")["currentBalance"]))
        run_once(record, rng, path, env, sandbox.admin, sandbox.config.db_path, name)
        sandbox.admin.post("/faults", json={}).raise_for_status()
        check(record, sandbox.config.db_path, name, ledger_url)
        after = Decimal(str(sandbox.engine.get_account("sandbox-usd")["currentBalance"]))
        if before - after != record.charged:
            record.money_mismatch += 1
            record.notes.append(f"balance moved {before - after}, charged {record.charged}")
        if not record.completed:
            record.unbalanced += 1  # never reached a balanced report
        records.append(record)
        print(
            f"run {n:3} {record.scenario:11} rows {record.rows:4} valid {record.valid:4} "
            f"attempts {record.attempts} killed "
            f"{record.killed} lines {record.lines_at_tango:4} dup {record.duplicates} lost "
            f"{record.lost} ok {record.completed} {'; '.join(record.notes)[:100]}",
            flush=True,
        )
    stack.close()
    return records


def table(records: list[RunRecord]) -> dict[str, int]:
    faults: Counter[str] = Counter()
    for r in records:
        for k, v in r.faults.items():
            if k != "seed" and v:
                faults[k] += 1
    return {
        "runs": len(records),
        **{
            f"runs killed: {name}": sum(r.scenario == name and r.killed > 0 for r in records)
            for name in SCENARIOS
        },
        "process attempts": sum(r.attempts for r in records),
        "crashes (killed)": sum(r.killed for r in records),
        **{f"runs with {k}": v for k, v in sorted(faults.items())},
        "duplicates found": sum(r.duplicates for r in records),
        "rows lost": sum(r.lost for r in records),
        "unbalanced / unfinished": sum(r.unbalanced for r in records),
        "money mismatches": sum(r.money_mismatch for r in records),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from proof.prefect_server import prefect_server
    from sandbox import SandboxConfig, SandboxServer

    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    with prefect_server(work / "prefect") as api:
        config = SandboxConfig(db_path=work / "sandbox.db", fulfil_latency_s=0.02)
        with SandboxServer(config) as sandbox:
            records = campaign(args.runs, args.seed, sandbox, api, work)
    print()
    for key, value in table(records).items():
        print(f"{key:34} {value:>6}")


if __name__ == "__main__":
    main()
