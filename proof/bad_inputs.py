"""Bad-input campaign: every file of the corpus through reading, validation and sending
(Prefect-free pipeline, local sandbox). Prints one line per input and a summary table.

    .venv/bin/python -m proof.bad_inputs [--big-rows 1000000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from proof.corpus import Case, cases


@dataclass
class Outcome:
    name: str
    expected: str
    kind: str  # error, rows, traceback
    detail: str
    valid: int = 0
    rejected: int = 0
    sent_lines: int = 0
    seconds: float = 0.0
    tb: str = field(default="", repr=False)

    @property
    def as_expected(self) -> bool:
        return self.kind == self.expected


def run_case(case: Case, folder: Path, client, book, sandbox) -> Outcome:
    from rewards.errors import InputError
    from rewards.pipeline import run_plain
    from rewards.validation import ValidationOptions

    path = folder / case.name
    case.write(path)
    campaign = "bad-" + case.name
    start = time.perf_counter()
    options = ValidationOptions(default_campaign=campaign)
    try:
        if not case.send:
            return _validate_only(case, path, client, options, start)
        run = run_plain(path, client, book, options=options)
    except InputError as exc:
        return Outcome(
            case.name, case.expect, "error", str(exc)[:110], seconds=time.perf_counter() - start
        )
    except Exception as exc:
        return Outcome(
            case.name,
            case.expect,
            "traceback",
            f"{type(exc).__name__}: {exc}"[:110],
            seconds=time.perf_counter() - start,
            tb=traceback.format_exc(),
        )
    with sandbox.engine.store.tx() as c:
        sent = c.execute(
            "SELECT COUNT(*) FROM line_items l JOIN orders o ON "
            "o.reference_order_id = l.reference_order_id WHERE o.campaign = ?",
            (campaign,),
        ).fetchone()[0]
    first = run.validated.problems.head(1)
    detail = (
        f"row {first.iloc[0]['row_number']}: {first.iloc[0]['column']}: {first.iloc[0]['reason']}"[
            :110
        ]
        if len(first)
        else "all rows valid"
    )
    return Outcome(
        case.name,
        case.expect,
        "rows",
        detail,
        valid=len(run.validated.valid),
        rejected=len(run.validated.rejected),
        sent_lines=sent,
        seconds=time.perf_counter() - start,
    )


def _validate_only(case: Case, path: Path, client, options, start: float) -> Outcome:
    from rewards.reading import read_recipients
    from rewards.validation import validate

    sheet = read_recipients(path)
    result = validate(sheet.frame, client.get_catalog(), "USD", options)
    first = result.problems.head(1)
    detail = (
        f"(validated only) row {first.iloc[0]['row_number']}: {first.iloc[0]['column']}"
        if len(first)
        else "(validated only) all rows valid"
    )
    return Outcome(
        case.name,
        case.expect,
        "rows",
        detail,
        valid=len(result.valid),
        rejected=len(result.rejected),
        seconds=time.perf_counter() - start,
    )


def campaign(big_rows: int, sandbox, client, book) -> list[Outcome]:
    folder = Path(tempfile.mkdtemp(prefix="corpus-"))
    return [run_case(c, folder, client, book, sandbox) for c in cases(big_rows)]


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "inputs": len(outcomes),
        "clear errors": sum(o.kind == "error" for o in outcomes),
        "partial acceptances": sum(o.kind == "rows" and o.rejected > 0 for o in outcomes),
        "fully accepted": sum(o.kind == "rows" and o.rejected == 0 for o in outcomes),
        "tracebacks": sum(o.kind == "traceback" for o in outcomes),
        "orders sent for rejected rows": sum(max(o.sent_lines - o.valid, 0) for o in outcomes),
        "not as expected": sum(not o.as_expected for o in outcomes),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big-rows", type=int, default=1_000_000)
    args = parser.parse_args()

    from raas import RaasClient, TangoSettings
    from rewards.ledger import Ledger
    from sandbox import SandboxConfig, SandboxServer
    from sandbox.config import DEFAULT_PLATFORM_KEY, DEFAULT_PLATFORM_NAME

    work = Path(tempfile.mkdtemp(prefix="bad-inputs-"))
    with SandboxServer(SandboxConfig(db_path=work / "sb.db", fulfil_latency_s=0.0)) as sandbox:
        from decimal import Decimal

        sandbox.engine.fund_account("sandbox-usd", Decimal(10**9))
        settings = TangoSettings(
            base_url=sandbox.base_url,
            platform_name=DEFAULT_PLATFORM_NAME,
            platform_key=DEFAULT_PLATFORM_KEY,
            customer_identifier="sandbox-customer",
            account_identifier="sandbox-usd",
            timeout_seconds=120,
        )
        with RaasClient(settings) as client:
            outcomes = campaign(
                args.big_rows, sandbox, client, Ledger(f"sqlite:///{work / 'ledger.db'}")
            )
    for o in outcomes:
        flag = "" if o.as_expected else "  <-- expected " + o.expected
        print(
            f"{o.name:38} {o.kind:9} valid {o.valid:>8} rejected {o.rejected:>4} "
            f"sent {o.sent_lines:>8} {o.seconds:6.2f}s  {o.detail}{flag}"
        )
        if o.tb:
            print(o.tb)
    print()
    for key, value in summary(outcomes).items():
        print(f"{key:32} {value:>6}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak RSS (MiB)':32} {peak:>6.0f}")


if __name__ == "__main__":
    main()
