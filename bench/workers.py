"""Throughput with 1, 2 and 4 workers on one large file: a Prefect server on PostgreSQL, the
ledger on PostgreSQL, a process work pool, the sandbox in a process of its own with a fixed
latency per request and Tango's rate limit, and the shared limit ``tango-api``. Each round
sends a fresh copy of the file with ``fan_out`` = the number of workers (each worker runs one
share at a time) and prints line items per second and what the sandbox saw.

    .venv/bin/python bench/workers.py [--rows 12000] [--workers 1 2 4] [--latency-ms 1000] [--tango-rps 6]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="bench-workers-"))


def start_sandbox(port: int, latency_ms: int, rps: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--db",
            str(WORK / "sandbox.db"),
            "--latency",
            "0",
            "--rps",
            str(rps),
            "--faults",
            f'{{"latency_ms": {latency_ms}}}',
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=1).raise_for_status()
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the sandbox did not start")


def timeline(api: str, since: float) -> None:
    """Each flow and task run of the last round: when it started and ended (diagnostics)."""
    from datetime import datetime

    with httpx.Client(base_url=api) as http:
        for kind in ("flow_runs", "task_runs"):
            found = http.post(f"/{kind}/filter", json={}).json()
            for r in sorted((r for r in found if r["start_time"]), key=lambda r: r["start_time"]):
                t0 = datetime.fromisoformat(r["start_time"]).timestamp()
                t1 = datetime.fromisoformat(r["end_time"]).timestamp() if r["end_time"] else t0
                offset = t0 - (time.time() - (time.perf_counter() - since))
                if offset > -1:
                    print(f"  {kind[:4]} {r['name'][:40]:<40} +{offset:6.1f}s  {t1 - t0:6.1f}s")


def share_span(api: str, batch: str) -> float:
    """From the first send-orders run's start to the last one's end, for ``batch``."""
    from datetime import datetime

    found = httpx.post(
        f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": ["send-orders"]}}}
    ).json()
    mine = [r for r in found if r["parameters"].get("batch") == batch and r["end_time"]]
    if not mine:
        return float("nan")
    start = min(datetime.fromisoformat(r["start_time"]) for r in mine)
    return (max(datetime.fromisoformat(r["end_time"]) for r in mine) - start).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=12_000)
    parser.add_argument("--chunk", type=int, default=100, help="line items per order")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--latency-ms", type=int, default=1000, help="per Tango request")
    parser.add_argument("--tango-rps", type=float, default=6, help="Tango's rate limit")
    parser.add_argument("--submit-concurrency", type=int, default=2, help="per share")
    parser.add_argument(
        "--no-shared-limit", action="store_true", help="no Prefect global limit: 429s pace"
    )
    parser.add_argument("--timeline", action="store_true", help="print each run's start/end")
    args = parser.parse_args()

    from bench.generate import generate
    from proof.pool import deploy, workers
    from proof.postgres import fresh_database
    from proof.prefect_server import prefect_server
    from sandbox.config import DEFAULT_PLATFORM_KEY, DEFAULT_PLATFORM_NAME
    from sandbox.server import admin_client, free_port

    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        prefect_db = stack.enter_context(fresh_database("asyncpg"))
        ledger_url = stack.enter_context(fresh_database("psycopg"))
        api = stack.enter_context(
            prefect_server(WORK / "prefect", {"PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_db})
        )
        sandbox = start_sandbox(port, args.latency_ms, args.tango_rps)
        stack.callback(sandbox.wait, 30)
        stack.callback(sandbox.terminate)
        admin = stack.enter_context(admin_client(sandbox_url))
        admin.post("/accounts/sandbox-usd/fund", json={"amount": 10**9})
        env = {
            "PREFECT_HOME": str(WORK / "prefect"),
            "PREFECT_API_URL": api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "TANGO_BASE_URL": f"{sandbox_url}/raas/v2",
            "TANGO_PLATFORM_NAME": DEFAULT_PLATFORM_NAME,
            "TANGO_PLATFORM_KEY": DEFAULT_PLATFORM_KEY,
            "TANGO_CUSTOMER_IDENTIFIER": "sandbox-customer",
            "TANGO_ACCOUNT_IDENTIFIER": "sandbox-usd",
            "REWARDS_LEDGER_URL": ledger_url,
            "REWARDS_REPORTS_DIR": str(WORK / "reports"),
            "REWARDS_SOURCE_ROOTS": str(WORK),  # the flow reads its source only under these
            "REWARDS_GLOBAL_RATE_LIMIT": "" if args.no_shared_limit else "tango-api",
        }
        os.environ.update(env)  # this process starts the fulfil-rewards runs
        child_env = {**os.environ, **env}
        deploy("bench", args.tango_rps, child_env)
        from flows.fulfil_rewards import fulfil_rewards
        from rewards.summary import summary_of

        rows: list[tuple[int, float, dict, dict]] = []
        for n in args.workers:
            with workers("bench", n, child_env, limit=1, prefix=f"w{n}"):
                time.sleep(3)  # the workers register and start polling
                path = generate(WORK / f"w{n}.csv", args.rows, seed=n, campaign=f"w{n}", bad_rate=0)
                before = admin.get("/stats").json()["requests"]
                start = time.perf_counter()
                state = fulfil_rewards(
                    source_path=str(path),
                    max_line_items_per_order=args.chunk,
                    submit_concurrency=args.submit_concurrency,
                    poll_interval_seconds=0.5,
                    fan_out=n,
                    return_state=True,
                )
                seconds = time.perf_counter() - start
                stats = admin.get("/stats", params={"window": 1}).json()
                summary = summary_of(state.result(raise_on_failure=False))
                out = summary.flat() if summary else {}
                seen = {k: stats["requests"][k] - before[k] for k in before}
                span = share_span(api, out.get("batch", ""))
                rows.append(
                    (n, seconds, out, seen | {"busiest": stats["busiest_window"], "span": span})
                )
                if args.timeline:
                    timeline(api, start)

    print(
        f"{args.rows:,} rows, {args.chunk} per order, sandbox latency {args.latency_ms} ms per "
        f"request, Tango limit {args.tango_rps:g} req/s (shared limit the same), "
        f"{args.submit_concurrency} orders at once per share"
    )
    print(
        "workers  run s  items/s (run)  shares s  items/s (shares)  complete  balanced  "
        "requests  req/s (shares)  429s"
    )
    for n, seconds, out, seen in rows:
        done, span = out.get("complete", 0), seen["span"]
        print(
            f"{n:>7}  {seconds:>5.1f}  {done / seconds:>13.0f}  {span:>8.1f}  "
            f"{done / span:>16.0f}  {done:>8}  {out.get('balanced')!s:>8}  "
            f"{seen['received']:>8}  {seen['received'] / span:>14.1f}  {seen['rateLimited']:>4}"
        )
    print(
        "run: the whole fulfil-rewards run (read, validate, plan, shares, reconcile, report); "
        "shares: first send-orders start to last end"
    )
    print(f"busiest 1 s at the sandbox (all rounds): {rows[-1][3]['busiest']['requests']} requests")


if __name__ == "__main__":
    main()
