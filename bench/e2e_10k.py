"""10,000 rows end to end through the sandbox (zero fulfilment latency): the fulfil-rewards
flow on a temporary Prefect server, then the same work with the Prefect-free core alone.
Prints wall time and the HTTP requests the sandbox received for each.

    .venv/bin/python bench/e2e_10k.py [--rows N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
os.environ.update(
    {
        "PREFECT_HOME": str(WORK / "prefect"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "REWARDS_SOURCE_ROOTS": str(WORK),  # the flow reads its source only under these
    }
)


def plain(path: Path, ledger_url: str, chunk: int) -> dict:
    """The flow's steps, without Prefect: the same functions its tasks call."""
    from rewards.ledger import Ledger
    from rewards.steps import Context, send_file
    from tasks.tango import client_for, tango_client

    sent = send_file(
        Context(Ledger(ledger_url), client_for), path, tango_client(), chunk_size=chunk
    )
    assert sent.result is not None, sent.cost.text()
    return sent.result.counts | {"balanced": sent.result.balanced}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=250)
    args = parser.parse_args()

    from bench.generate import generate
    from sandbox import SandboxConfig, SandboxServer

    config = SandboxConfig(db_path=WORK / "sandbox.db", fulfil_latency_s=0.0)
    with SandboxServer(config) as sandbox:
        sandbox.engine.fund_account("sandbox-usd", __import__("decimal").Decimal(10**8))
        os.environ.update(
            {
                **sandbox.tango_env(),
                "REWARDS_LEDGER_URL": f"sqlite:///{WORK / 'ledger.db'}",
                "REWARDS_REPORTS_DIR": str(WORK / "reports"),
            }
        )
        with_prefect = generate(
            WORK / "with_prefect.csv", args.rows, seed=1, campaign="a", bad_rate=0
        )
        without = generate(
            WORK / "without_prefect.csv", args.rows, seed=1, campaign="b", bad_rate=0
        )

        from prefect.testing.utilities import prefect_test_harness

        from flows.fulfil_rewards import fulfil_rewards
        from rewards.summary import summary_of

        with prefect_test_harness(server_startup_timeout=90):
            before = sandbox.engine.requests_seen
            start = time.perf_counter()
            state = fulfil_rewards(
                source_path=str(with_prefect),
                max_line_items_per_order=args.chunk,
                poll_interval_seconds=0.1,
                return_state=True,
            )
            t_flow = time.perf_counter() - start
            flow_requests = sandbox.engine.requests_seen - before
            summary = summary_of(state.result(raise_on_failure=False))
            out = summary.flat() if summary else {}
        before = sandbox.engine.requests_seen
        start = time.perf_counter()
        bare = plain(without, os.environ["REWARDS_LEDGER_URL"], args.chunk)
        t_plain = time.perf_counter() - start
        plain_requests = sandbox.engine.requests_seen - before
    print(f"rows                         {args.rows:>10,}  ({args.chunk} per order)")
    print(
        f"flow (Prefect)               {t_flow:>10.2f} s   {flow_requests:>6} HTTP requests   "
        f"complete {out.get('complete')}  balanced {out.get('balanced')}  state {state.name}"
    )
    print(
        f"same work without Prefect    {t_plain:>10.2f} s   {plain_requests:>6} HTTP requests   "
        f"complete {bare['complete']}  balanced {bare['balanced']}"
    )
    print(f"Prefect overhead             {t_flow - t_plain:>10.2f} s ({t_flow / t_plain:.2f}x)")


if __name__ == "__main__":
    main()
