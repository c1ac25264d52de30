"""Bad-input campaign: every file of the corpus through reading, validation and sending
(the flow's steps without Prefect, local sandbox), each in a process of its own, bounded in time and
watched for memory. Prints one line per input and a summary table.

    .venv/bin/python -m proof.bad_inputs [--big-rows 1000000] [--timeout 300]

A case's process is forked from a server that has imported the steps once, so a crash,
a hang or a memory blow-up ends that case, not the campaign. A source file is read as the
flow reads it (confined to the corpus folder); an inbox case is dropped into an inbox that
is then scanned. After each case, what Tango (the sandbox) received for it is checked for
unsafe values by rules of this file's own, not validation's.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import resource
import tempfile
import time
import traceback
import unicodedata
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from proof.corpus import Case, cases

MEMORY_CAP_MIB = 2048  # a case's process must stay under this
KILL_MIB = 4096  # ...and is stopped here, to spare the machine
PRELOAD = [  # imported once by the server the cases' processes are forked from
    "rewards.steps",
    "rewards.inbox",
    "rewards.sources",
    "raas",
    "polars",
    "python_calamine",
]


@dataclass
class Outcome:
    name: str
    expected: str
    kind: str  # error, rows; traceback, crash (the process died), hang (out of time)
    detail: str
    valid: int = 0
    rejected: int = 0
    warnings: int = 0
    sent_lines: int = 0
    unsafe: list[str] = field(default_factory=list)  # values Tango received that it should not
    leaked: bool = False  # a message quoted the file's secret
    peak_mib: float = 0.0
    seconds: float = 0.0
    tb: str = field(default="", repr=False)
    case: Case | None = field(default=None, repr=False)

    @property
    def as_expected(self) -> bool:
        if self.kind != self.expected or self.case is None:
            return False
        counts = ((self.case.rejected, self.rejected), (self.case.warnings, self.warnings))
        return all(want is None or want == got for want, got in counts)


@dataclass(frozen=True)
class Job:
    """What a case's process needs (picklable: no functions)."""

    name: str
    expected: str
    path: str
    folder: str
    via: str
    send: bool
    secret: str | None
    settings: Any  # TangoSettings
    ledger_url: str


# --- in the case's own process -------------------------------------------------------------


def _child(job: Job, conn: Connection) -> None:
    start = time.perf_counter()
    try:
        outcome = run_case(job)
    except BaseException as exc:  # anything at all: reported, never raised out of here
        outcome = Outcome(job.name, job.expected, "traceback", f"{type(exc).__name__}: {exc}"[:110])
        outcome.tb = traceback.format_exc()
    outcome.seconds = time.perf_counter() - start
    outcome.peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    conn.send(outcome)
    conn.close()


def run_case(job: Job) -> Outcome:
    from raas import RaasClient
    from rewards.errors import InputError
    from rewards.ledger import Ledger
    from rewards.sources import confine
    from rewards.steps import Context, send_file
    from rewards.validation import ValidationOptions

    options = ValidationOptions(default_campaign="bad-" + job.name)
    try:
        if job.via == "inbox":
            return _through_inbox(job)
        path = confine(job.path, [Path(job.folder)])  # as the flow's load_spreadsheet does
        with RaasClient(job.settings) as client:
            if not job.send:
                return _validate_only(job, path, client, options)
            ctx = Context(Ledger(job.ledger_url), lambda _order: client)
            run = send_file(ctx, path, client, options=options, confined=False)

    except InputError as exc:
        return _error(job, str(exc))
    except Exception as exc:
        outcome = Outcome(job.name, job.expected, "traceback", f"{type(exc).__name__}: {exc}"[:110])
        outcome.tb = traceback.format_exc()
        return outcome
    return _rows(job, run.validated)


def _error(job: Job, message: str) -> Outcome:
    leaked = bool(job.secret) and job.secret in message
    return Outcome(job.name, job.expected, "error", message[:110], leaked=leaked)


def _rows(job: Job, validated: Any, prefix: str = "") -> Outcome:
    first = validated.problems.head(1)
    detail = (
        f"{prefix}row {first.iloc[0]['row_number']}: {first.iloc[0]['column']}: "
        f"{first.iloc[0]['reason']}"
        if len(first)
        else f"{prefix}all rows valid"
    )
    leaked = bool(job.secret) and any(
        job.secret in str(r) for r in validated.problems["reason"].head(1000)
    )
    return Outcome(
        job.name,
        job.expected,
        "rows",
        detail[:110],
        valid=len(validated.valid),
        rejected=len(validated.rejected),
        warnings=len(validated.warnings),
        leaked=leaked,
    )


def _validate_only(job: Job, path: Path, client: Any, options: Any) -> Outcome:
    from rewards.reading import read_recipients
    from rewards.validation import validate

    sheet = read_recipients(path)
    return _rows(
        job, validate(sheet.frame, client.get_catalog(), "USD", options), "(validated only) "
    )


def _through_inbox(job: Job) -> Outcome:
    """Scan the inbox the file was dropped in: refused (nothing announced) is an 'error'."""
    from rewards.inbox import Inbox

    said: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("rewards.inbox").addHandler(handler)
    taken = Inbox(Path(job.path).parent, job.ledger_url, settle_seconds=0).scan()
    if taken:
        return Outcome(job.name, job.expected, "rows", f"taken: {taken[0].path}")
    return _error(job, "; ".join(said) or "nothing taken, nothing said")


# --- in the campaign's process -------------------------------------------------------------


def campaign(
    big_rows: int, sandbox: Any, settings: Any, ledger_url: str, timeout: float = 300
) -> list[Outcome]:
    folder = Path(tempfile.mkdtemp(prefix="corpus-"))
    (folder / "inbox").mkdir()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    outcomes = []
    for case in cases(big_rows):
        path = (folder / "inbox" if case.via == "inbox" else folder) / case.name
        case.write(path)
        job = Job(
            case.name,
            case.expect,
            str(path),
            str(folder),
            case.via,
            case.send,
            case.secret,
            settings,
            ledger_url,
        )
        outcome = _isolated(context, job, timeout)
        outcome.case = case
        if outcome.kind == "rows":
            outcome.sent_lines, outcome.unsafe = _received(sandbox, "bad-" + case.name)
        outcomes.append(outcome)
        if path.is_file() and not path.is_symlink() and path.stat().st_size > 1 << 24:
            path.unlink()  # large inputs go once used: the corpus folder stays small
    return outcomes


def _isolated(context: Any, job: Job, timeout: float) -> Outcome:
    """Run ``job`` in a process of its own; a hang is stopped at ``timeout``, a process that
    swells past KILL_MIB is stopped there."""
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(job, send), daemon=True)
    start = time.perf_counter()
    process.start()
    send.close()
    peak, outcome = 0.0, None
    while outcome is None:
        if receive.poll(0.05):
            try:
                outcome = receive.recv()
            except EOFError:  # died without a word
                break
        peak = max(peak, _rss_mib(process.pid))
        if peak > KILL_MIB or time.perf_counter() - start > timeout:
            break
        if not process.is_alive() and not receive.poll(0):
            break
    if process.is_alive() and outcome is None:
        process.kill()
    process.join(10)
    if outcome is None:
        kind = "hang" if time.perf_counter() - start > timeout else "crash"
        detail = f"exit {process.exitcode}" if kind == "crash" else f"no answer in {timeout:.0f} s"
        outcome = Outcome(job.name, job.expected, kind, detail, seconds=time.perf_counter() - start)
    outcome.peak_mib = max(outcome.peak_mib, peak)
    return outcome


def _rss_mib(pid: int | None) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            line = next(line for line in fh if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration, ValueError):
        return 0.0


# --- what Tango received ---------------------------------------------------------------------

FORMULA_START = "=+-@\uff1d\uff0b\uff0d\uff20"
TEXT_LIMITS = {"firstName": 100, "lastName": 100, "message": 1024, "emailSubject": 1024}


def _received(sandbox: Any, campaign: str) -> tuple[int, list[str]]:
    """Line items Tango holds for ``campaign``, and the unsafe values among them."""
    import json

    with sandbox.engine.store.tx() as c:
        rows = c.execute(
            "SELECT l.recipient_json, l.message, l.email_subject FROM line_items l JOIN "
            "orders o ON o.reference_order_id = l.reference_order_id WHERE o.campaign = ?",
            (campaign,),
        ).fetchall()
    unsafe: list[str] = []
    for recipient_json, message, subject in rows:
        recipient = json.loads(recipient_json or "{}")
        values = {
            "firstName": recipient.get("firstName"),
            "lastName": recipient.get("lastName"),
            "email": recipient.get("email"),
            "message": message,
            "emailSubject": subject,
            **{f"address.{k}": v for k, v in (recipient.get("address") or {}).items()},
        }
        unsafe += [f"{k}={v!r}"[:80] for k, v in values.items() if v and _unsafe(k, v)]
    return len(rows), unsafe


def _unsafe(field_name: str, value: str) -> bool:
    """A value no one should have sent: a formula start, a control or format character
    (line breaks allowed in a message), UTF-8 garbled into Windows-1252 (mojibake), a length
    over Tango's field, an email out of RFC 5321's lengths. (A name that lost a letter to
    U+FFFD is sent with a warning: the letter is gone, nothing is garbled.)"""
    if value.lstrip()[:1] in FORMULA_START:
        return True
    allowed = "\n\r\t" if field_name == "message" else ""
    if any(unicodedata.category(c) in ("Cc", "Cf") and c not in allowed for c in value):
        return True
    if any(f"{a}{chr(b)}" in value for a in "ÃÂ" for b in range(0x80, 0xC0)):
        return True
    if len(value) > TEXT_LIMITS.get(field_name, 1024):
        return True
    if field_name == "email":
        local, _, _ = value.rpartition("@")
        return len(local.encode()) > 64 or len(value.encode()) > 254
    return False


# --- the report ---------------------------------------------------------------------------------


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "inputs": len(outcomes),
        "clear errors": sum(o.kind == "error" for o in outcomes),
        "partial acceptances": sum(o.kind == "rows" and o.rejected > 0 for o in outcomes),
        "fully accepted": sum(o.kind == "rows" and o.rejected == 0 for o in outcomes),
        "tracebacks": sum(o.kind == "traceback" for o in outcomes),
        "crashes": sum(o.kind == "crash" for o in outcomes),
        "hangs": sum(o.kind == "hang" for o in outcomes),
        "processes over the memory cap": sum(o.peak_mib > MEMORY_CAP_MIB for o in outcomes),
        "unsafe values sent": sum(len(o.unsafe) for o in outcomes),
        "messages quoting the file": sum(o.leaked for o in outcomes),
        "orders sent for rejected rows": sum(max(o.sent_lines - o.valid, 0) for o in outcomes),
        "not as expected": sum(not o.as_expected for o in outcomes),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big-rows", type=int, default=1_000_000)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per input")
    args = parser.parse_args()

    from decimal import Decimal

    from raas import TangoSettings
    from sandbox import SandboxConfig, SandboxServer
    from sandbox.config import DEFAULT_PLATFORM_KEY, DEFAULT_PLATFORM_NAME

    work = Path(tempfile.mkdtemp(prefix="bad-inputs-"))
    with SandboxServer(SandboxConfig(db_path=work / "sb.db", fulfil_latency_s=0.0)) as sandbox:
        sandbox.engine.fund_account("sandbox-usd", Decimal(10**9))
        settings = TangoSettings(
            base_url=sandbox.base_url,
            platform_name=DEFAULT_PLATFORM_NAME,
            platform_key=DEFAULT_PLATFORM_KEY,
            customer_identifier="sandbox-customer",
            account_identifier="sandbox-usd",
            timeout_seconds=120,
        )
        outcomes = campaign(
            args.big_rows, sandbox, settings, f"sqlite:///{work / 'ledger.db'}", args.timeout
        )
    for o in outcomes:
        flag = "" if o.as_expected else "  <-- expected " + o.expected
        print(
            f"{o.name:38} {o.kind:9} valid {o.valid:>8} rejected {o.rejected:>7} "
            f"warned {o.warnings:>2} sent {o.sent_lines:>6} {o.seconds:6.2f}s "
            f"{o.peak_mib:5.0f}MiB  {o.detail}{flag}"
        )
        for value in o.unsafe:
            print(f"    unsafe: {value}")
        if o.tb:
            print(o.tb)
    print()
    for key, value in summary(outcomes).items():
        print(f"{key:32} {value:>6}")
    print(f"{'largest process (MiB)':32} {max(o.peak_mib for o in outcomes):>6.0f}")


if __name__ == "__main__":
    main()
