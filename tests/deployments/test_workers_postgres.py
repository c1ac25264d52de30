"""Outgrowing one machine: a Prefect server on PostgreSQL, a process work pool with two
workers, the ledger on PostgreSQL, and two batches at once: every line item sent exactly once,
the shared rate limit respected (measured at the sandbox), both reports balanced; one batch
is shared out (``fan_out=2``) to send-orders runs on the workers."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd
from sqlalchemy import select

from proof import pool
from proof.postgres import fresh_database
from proof.prefect_server import prefect_server
from rewards.ledger import Ledger, orders
from sandbox import SandboxConfig, SandboxServer
from tests.flows.conftest import recipients, write_csv

PER_SECOND = 5


def test_two_workers_two_batches_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    with (
        fresh_database("asyncpg") as prefect_db,
        prefect_server(
            tmp_path / "prefect", {"PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_db}
        ) as api,
        SandboxServer(SandboxConfig(db_path=tmp_path / "sb.db", fulfil_latency_s=0.3)) as sb,
    ):
        env = {
            **os.environ,
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_API_URL": api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            **sb.tango_env(),
            "REWARDS_LEDGER_URL": postgres_url,
            "REWARDS_REPORTS_DIR": str(tmp_path / "rep"),
            "REWARDS_GLOBAL_RATE_LIMIT": "tango-api",
        }
        pool.deploy("rewards", PER_SECOND, env)
        with pool.workers("rewards", 2, env, limit=2):
            files = [
                write_csv(tmp_path / f"batch{n}.csv", recipients(f"pool-{n}", 24)) for n in range(2)
            ]
            with httpx.Client(base_url=api, timeout=30) as http:
                dep = http.get("/deployments/name/fulfil-rewards/manual").json()["id"]
                runs = [
                    http.post(
                        f"/deployments/{dep}/create_flow_run",
                        json={
                            "parameters": {
                                "source_path": str(f),
                                "max_line_items_per_order": 4,
                                "poll_interval_seconds": 0.5,
                                "fan_out": 2 if n == 0 else 0,  # batch 0: shared out
                            }
                        },
                    ).json()["id"]
                    for n, f in enumerate(files)
                ]
                deadline = time.monotonic() + 240
                states: list[str] = []
                while time.monotonic() < deadline:
                    states = [http.get(f"/flow_runs/{r}").json()["state"]["type"] for r in runs]
                    if all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states):
                        break
                    time.sleep(1)
                workers = {http.get(f"/flow_runs/{r}").json().get("work_queue_name") for r in runs}
                shares = http.post(
                    "/flow_runs/filter", json={"flow_runs": {"parent_flow_run_id": {"any_": runs}}}
                ).json()
                with Ledger(postgres_url).engine.connect() as conn:  # who POSTed each order
                    sent_by = Counter(r.sent_by for r in conn.execute(select(orders.c.sent_by)))
                submitted = {r: sent_by[r] for r in [*runs, *(s["id"] for s in shares)]}
            assert states == ["COMPLETED", "COMPLETED"], states
            assert workers == {"default"}
            busiest = sb.admin.get("/stats", params={"window": 2}).json()
            with sb.engine.store.tx() as c:
                lines = pd.DataFrame(
                    [
                        dict(r)
                        for r in c.execute(
                            "SELECT o.campaign, l.external_ref_line_item_id AS id FROM line_items l "
                            "JOIN orders o ON o.reference_order_id = l.reference_order_id"
                        ).fetchall()
                    ]
                )
    assert lines.groupby("campaign").size().to_dict() == {"pool-0": 24, "pool-1": 24}
    # batch 0's 6 orders were submitted by its two send-orders runs (3 each), none by itself
    assert [s["state"]["type"] for s in shares] == ["COMPLETED", "COMPLETED"]
    assert sorted(submitted[s["id"]] for s in shares) == [3, 3]
    assert (submitted[runs[0]], submitted[runs[1]]) == (0, 6)
    assert lines["id"].is_unique
    # a limit of N slots decaying at N/s admits at most N + 2N requests in any 2 s
    assert busiest["busiest_window"]["requests"] <= 3 * PER_SECOND
    for report in (tmp_path / "rep").glob("*/summary.md"):
        assert "Books: **balanced**" in report.read_text()
    assert len(list((tmp_path / "rep").glob("*/summary.md"))) == 2
