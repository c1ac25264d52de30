"""The fulfil-rewards flow's steps without Prefect, in a process of its own (what
bench/e2e.py measures the flow against): the same functions the flow's tasks call, the
report's files included (the run's page, its artifacts, are Prefect's).


    .venv/bin/python -m bench.plain FILE [--chunk 100]
"""

from __future__ import annotations

import argparse

from rewards.ledger import Ledger
from rewards.memory import give_back_freed_memory
from rewards.params import RewardsSettings
from rewards.steps import Context, send_file
from tasks.tango import client_for, tango_client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--chunk", type=int, default=100)
    args = parser.parse_args()
    give_back_freed_memory()  # as the flow's process does (flows/__init__.py)

    settings = RewardsSettings()
    ctx = Context(Ledger(settings.ledger_url), client_for)
    sent = send_file(
        ctx,
        args.file,
        tango_client(),
        chunk_size=args.chunk,
        timeout_s=3600,
        reports_dir=settings.reports_dir,  # the report's files, as a run writes them
    )

    assert sent.result is not None, sent.cost.text()
    print(f"{sent.result.counts['complete']} sent; balanced {sent.result.balanced}")


if __name__ == "__main__":
    main()
