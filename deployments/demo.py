"""``make demo``: the main job on the embedded default.

With no ``TANGO_BASE_URL`` it starts the local Tango sandbox in-process; Prefect runs on a
temporary server of its own. It sends ``data/sample_recipients.csv`` (its scheduled row moved
into Tango's 7-90 day window) and prints where the report is. It only talks to a real Tango
when ``TANGO_BASE_URL`` is set explicitly.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
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


def _home() -> Path:
    """Where the demo keeps its sandbox, ledger and Prefect state between ``rewards demo``
    and the ``rewards demo --manage`` it prints (``REWARDS_DEMO_DIR``, default ``.demo/``)."""
    return Path(os.environ.get("REWARDS_DEMO_DIR") or ROOT / ".demo")


def main(manage: str | None = None, dry_run: bool = False) -> int:
    """The demo; ``manage``: an actions file run against the last demo's sandbox and ledger
    (the resend of its failed delivery)."""
    work = _home()
    if manage is not None and not (work / "sandbox.db").is_file():
        print(f"error: no demo to act on in {work}: run `make demo` first", file=sys.stderr)
        return 2
    if manage is None:  # each demo starts afresh
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("REWARDS_LEDGER_URL", f"sqlite:///{work / 'ledger.db'}")
    os.environ.setdefault("REWARDS_REPORTS_DIR", str(ROOT / "data" / "reports"))
    with ExitStack() as stack:
        embedded = not os.environ.get("TANGO_BASE_URL")
        if embedded:
            from sandbox import SandboxConfig, SandboxServer

            sandbox = stack.enter_context(SandboxServer(SandboxConfig(db_path=work / "sandbox.db")))
            os.environ.update(sandbox.tango_env())
            print(f"Local Tango sandbox: {sandbox.base_url}")
        else:
            print(f"Using Tango at {os.environ['TANGO_BASE_URL']}")
        if manage is not None:
            from .terminal import manage_and_print

            return manage_and_print({"source_path": manage, "dry_run": dry_run})
        sample = _fresh_sample(work)
        prefect = os.environ.get("PREFECT_API_URL")
        on = (
            f"on the Prefect server at {prefect}"
            if prefect
            else "a temporary Prefect server starts first"
        )
        print(f"Sending {SAMPLE.relative_to(ROOT)} ({on})")
        from .terminal import run_and_print

        code = run_and_print({"source_path": str(sample)}, point_at_fixes=False)
        reports = Path(os.environ["REWARDS_REPORTS_DIR"])
        ledger = os.environ["REWARDS_LEDGER_URL"]
        print(f"\nReports are under {reports}; the ledger is {ledger}")
        if code == 0:
            _point_at_the_bounce(reports, embedded, ledger)
        return code


def _point_at_the_bounce(reports: Path, embedded: bool, ledger: str) -> None:
    """The way forward after a bounce: the report's failed_deliveries.csv, a new address typed
    in, and the command that resends it (to this demo's sandbox and ledger)."""
    import pandas as pd

    from rewards.export import mask_email

    found = sorted(reports.glob("*/failed_deliveries.csv"), key=lambda p: p.stat().st_mtime)
    if not found:
        return
    fix = pd.read_csv(found[-1], dtype=str, keep_default_na=False)
    path = found[-1].resolve()
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    to = ", ".join(mask_email(e) for e in fix["email"] if e)
    # against the demo's own sandbox, or the Tango it was pointed at (TANGO_BASE_URL)
    command = "demo --manage" if embedded else "manage"
    print(
        f"\n{len(fix)} delivery failed ({to}). To resend it: open {shown}, type the right "
        "address in new_email, save it, and run\n"
        f"  .venv/bin/rewards {command} {shown}\n"
        + (
            "(against this demo's sandbox and ledger; with your own Tango and Prefect it is "
            "`rewards manage FILE`)"
            if embedded
            else f"(with the same settings: TANGO_BASE_URL, REWARDS_LEDGER_URL={ledger})"
        )
    )


if __name__ == "__main__":  # as `rewards demo` (make demo) runs it, with its error handling
    from .cli import main as cli

    sys.exit(cli(["demo"]))
