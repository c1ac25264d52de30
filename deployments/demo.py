"""``make demo``: the main job on the embedded default.

With no ``TANGO_BASE_URL`` it starts the local Tango sandbox in-process; Prefect runs on a
temporary server of its own. It sends ``data/sample_recipients.csv`` (its scheduled row moved
into Tango's 7-90 day window) and prints where the report is. It only talks to a real Tango
when ``TANGO_BASE_URL`` is set explicitly.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample_recipients.csv"


def _fresh_sample(target: Path) -> Path:
    """The sample with each scheduled delivery date moved to ten days from today."""
    when = (datetime.now(UTC).date() + timedelta(days=10)).isoformat()
    with SAMPLE.open(newline="") as src:
        rows = list(csv.reader(src))
    col = rows[0].index("Delivery Date")
    for row in rows[1:]:
        if row[col]:
            row[col] = when
    out = target / SAMPLE.name
    with out.open("w", newline="") as dst:
        csv.writer(dst).writerows(rows)
    return out


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="rewards-demo-"))
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("REWARDS_LEDGER_URL", f"sqlite:///{work / 'ledger.db'}")
    os.environ.setdefault("REWARDS_REPORTS_DIR", str(ROOT / "data" / "reports"))
    with ExitStack() as stack:
        if not os.environ.get("TANGO_BASE_URL"):
            from sandbox import SandboxConfig, SandboxServer

            sandbox = stack.enter_context(SandboxServer(SandboxConfig(db_path=work / "sandbox.db")))
            os.environ.update(sandbox.tango_env())
            print(f"Local Tango sandbox: {sandbox.base_url}")
        else:
            print(f"Using Tango at {os.environ['TANGO_BASE_URL']}")
        sample = _fresh_sample(work)
        prefect = os.environ.get("PREFECT_API_URL")
        on = (
            f"on the Prefect server at {prefect}"
            if prefect
            else "a temporary Prefect server starts first"
        )
        print(f"Sending {SAMPLE.relative_to(ROOT)} ({on})")
        from .terminal import run_and_print

        code = run_and_print({"source_path": str(sample)})
        reports = Path(os.environ["REWARDS_REPORTS_DIR"])
        if code == 0:
            code = _fix_the_bounce(reports, work)
        ledger = os.environ["REWARDS_LEDGER_URL"]
        print(f"\nReports are under {reports}; the ledger is {ledger}")
        return code


def _fix_the_bounce(reports: Path, work: Path) -> int:
    """The round trip after a bounce: the report's failed_deliveries.csv with a new address
    typed in, run by manage-rewards; prints the command a person would type."""
    import pandas as pd

    from .terminal import manage_and_print

    found = sorted(reports.glob("*/failed_deliveries.csv"), key=lambda p: p.stat().st_mtime)
    if not found:
        return 0
    fix = pd.read_csv(found[-1], dtype=str, keep_default_na=False)
    fix["new_email"] = fix["email"].str.split("@").str[0] + "@example.com"
    fixed = work / "failed_deliveries_fixed.csv"
    fix.to_csv(fixed, index=False)
    print(
        f"\n{len(fix)} delivery failed. To resend it: open {found[-1]}, type the right "
        "address in new_email, save, and run\n"
        f"  .venv/bin/rewards manage {found[-1]}\n"
        f"(done now on a copy with the address typed in, {fixed}):"
    )

    return manage_and_print({"source_path": str(fixed)})


if __name__ == "__main__":  # as `rewards demo` (make demo) runs it, with its error handling
    from .cli import main as cli

    sys.exit(cli(["demo"]))
