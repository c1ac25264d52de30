"""Webhook latency: from the sandbox sending an order's completion webhook (its
``eventOccurredAt``) to the flow recording that order final in the ledger (``completed_at``),
over N orders, with the fallback poll set long so it cannot help.

The sandbox, the webhook receiver (``python -m webhooks``) and a Prefect server each run in a
process of their own; the flow runs here in webhook mode. Orders take ``--latency`` seconds
at the sandbox, longer than it takes to submit them all, so every completion arrives while the
flow listens.

    .venv/bin/python bench/webhook_latency.py [--orders 100] [--latency 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.figures import record  # noqa: E402


def _wait_healthy(url: str) -> None:
    for _ in range(600):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--latency", type=float, default=20.0, help="seconds per order")
    args = parser.parse_args()

    from bench.generate import generate
    from proof.prefect_server import prefect_server
    from raas.webhooks import new_hmac_key
    from sandbox.server import admin_client, free_port

    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    key = new_hmac_key()
    sandbox_port, receiver_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    started: list[subprocess.Popen[bytes]] = []
    with prefect_server(work / "prefect") as api:
        try:
            started.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "sandbox", "--port", str(sandbox_port)),
                        *("--db", str(work / "sandbox.db")),
                    ],
                    cwd=ROOT,
                    env={**os.environ, "SANDBOX_FULFIL_LATENCY_S": str(args.latency)},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "webhooks"],
                    cwd=ROOT,
                    env={
                        **os.environ,
                        "PREFECT_API_URL": api,
                        "WEBHOOKS_PORT": str(receiver_port),
                        "WEBHOOKS_DB_PATH": str(work / "events.db"),
                        "WEBHOOKS_HMAC_KEY": key,
                    },
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            _wait_healthy(sandbox_url + "/sandbox/health")
            _wait_healthy(f"http://127.0.0.1:{receiver_port}/health")
            admin = admin_client(sandbox_url)
            admin.post("/accounts/sandbox-usd/fund", json={"amount": 10**9}).raise_for_status()
            os.environ.update(
                {
                    "PREFECT_API_URL": api,
                    "PREFECT_HOME": str(work / "prefect"),
                    "PREFECT_LOGGING_LEVEL": "WARNING",
                    "TANGO_BASE_URL": sandbox_url + "/raas/v2",
                    "TANGO_PLATFORM_NAME": "sandbox-platform",
                    "TANGO_PLATFORM_KEY": "sandbox-platform-key",
                    "TANGO_CUSTOMER_IDENTIFIER": "sandbox-customer",
                    "TANGO_ACCOUNT_IDENTIFIER": "sandbox-usd",
                    "REWARDS_LEDGER_URL": f"sqlite:///{work / 'ledger.db'}",
                    "REWARDS_REPORTS_DIR": str(work / "reports"),
                    "REWARDS_SOURCE_ROOTS": str(work),
                }
            )
            from raas import RaasClient, TangoSettings

            with RaasClient(TangoSettings()) as client:
                receiver = f"http://127.0.0.1:{receiver_port}/tango/webhooks"
                client.create_webhook(receiver, hmac_shared_secret_key=key)

            from flows.fulfil_rewards import fulfil_rewards

            source = generate(work / "orders.csv", args.orders, bad_rate=0)
            rows = pd.read_csv(source, dtype=str, keep_default_na=False)
            rows["Delivery Date"] = ""  # a scheduled order has no completion to announce
            rows.to_csv(source, index=False)

            start = time.perf_counter()
            state = fulfil_rewards(
                source_path=str(source),
                completion_mode="webhook",
                poll_interval_seconds=3600,  # the fallback poll never comes
                max_line_items_per_order=1,
                return_state=True,
            )
            wall = time.perf_counter() - start
        finally:
            for proc in started:
                proc.terminate()
                proc.wait(30)

    sent: dict[str, float] = {}  # each order's last AsyncOrderStatus event
    with sqlite3.connect(work / "sandbox.db") as db:
        for (body,) in db.execute("SELECT body FROM events WHERE event_type='AsyncOrderStatus'"):
            event = json.loads(body)
            ref = event["eventData"]["externalRefID"]
            sent[ref] = max(sent.get(ref, 0.0), _at(event["eventOccurredAt"]))
    with sqlite3.connect(work / "ledger.db") as db:
        final = dict(db.execute("SELECT external_ref_id, completed_at FROM orders"))
    latencies = sorted(
        _at(final[ref]) - at for ref, at in sent.items() if final.get(ref) is not None
    )
    if len(latencies) < 2:
        raise SystemExit(f"only {len(latencies)} orders finished by webhook: {state.message}")
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    print(f"run: {state.name} {state.message!r} in {wall:.1f} s")
    print(f"webhook -> ledger final, {len(latencies)} of {len(sent)} orders (fallback poll 1 h)")
    print(f"p50 {p50:.2f} s   p95 {p95:.2f} s   max {latencies[-1]:.2f} s   (bar: 1 s / 2 s)")
    name = f"webhook -> ledger final, {len(latencies)} orders"
    record(name, "p50 s", p50, 1)
    record(name, "p95 s", p95, 2)


if __name__ == "__main__":
    main()
