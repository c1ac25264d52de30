"""``python -m sandbox --host 127.0.0.1 --port 8765 --db sandbox.db``"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from .app import create_app
from .config import Faults, SandboxConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="A local Tango RaaS v2.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (default sandbox.db)")
    parser.add_argument("--latency", type=float, default=None, help="seconds per line item")
    parser.add_argument("--failure-rate", type=float, default=None)
    parser.add_argument("--rps", type=float, default=None, help="requests per second, then 429")
    parser.add_argument("--faults", default=None, help="JSON, e.g. '{\"server_error_rate\": 0.1}'")
    args = parser.parse_args(argv)
    config = SandboxConfig()
    overrides = {
        "db_path": args.db,
        "fulfil_latency_s": args.latency,
        "failure_rate": args.failure_rate,
        "requests_per_second": args.rps,
    }
    for name, value in overrides.items():
        if value is not None:
            setattr(config, name, value)
    if args.faults:
        config.faults = Faults.model_validate_json(args.faults)
    print(
        f"Tango sandbox on http://{args.host}:{args.port}/raas/v2 "
        f"(platform {config.platform_name!r}, state in {config.db_path})",
        flush=True,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
