"""The steps of a run, Prefect-free: each task in ``tasks/`` calls one of these, and scripts
(benchmarks, proof campaigns) compose the same ones to measure the work without Prefect.

A :class:`Context` carries what every step needs from outside: the ledger, a Tango client per
(customer, account), and where to say what happens.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd

from raas import Account, RaasClient, RetryPolicy

from . import export, progress, sending, sources
from .identity import batch_id, line_item_ids, recipient_keys
from .ledger import Claimed, LeaseKeeper, Ledger, OrderRow, OrderState, submit_margin
from .planning import Plan, plan_batch
from .reading import Sheet, read_recipients
from .reconcile import Mode, Reconciliation, reconcile
from .sending import Submitted
from .standing import Standing, arrived_late, settle, settle_waiting
from .summary import CostPreview
from .validation import Validated, ValidationOptions, validate

log = logging.getLogger("rewards")


def _log_info(line: str) -> None:
    log.info("%s", line)


def _log_warning(line: str) -> None:
    log.warning("%s", line)


@dataclass(frozen=True)
class Context:
    book: Ledger
    client_for: Callable[[OrderRow], RaasClient]
    say: Callable[[str], None] = field(default=_log_info)
    warn: Callable[[str], None] = field(default=_log_warning)


def load(path: str | Path, sheet_name: str | None, confined: bool = True) -> Sheet:
    """The sheet; ``confined``: only from the configured source roots (see :mod:`.sources`)."""
    return read_recipients(sources.confine(path) if confined else path, sheet_name)


def plan(
    ctx: Context,
    valid_rows: pd.DataFrame,
    *,
    account: str,
    customer: str,
    chunk_size: int,
    wait_until: float | None,
    grace: float = 0.0,
) -> Plan:
    """Where each valid row stands (settled with Tango where a run died), then this batch's
    orders. ``wait_until`` (monotonic): wait while live runs of other batches send some of
    these rows; None (a dry run) looks once and writes nothing. ``grace``: see
    :func:`rewards.standing.stand`."""
    ids = line_item_ids(valid_rows, account)
    recipients = recipient_keys(valid_rows, account)
    recipient_of = dict(zip(ids, recipients, strict=True))
    batch = batch_id(ids.tolist(), account)
    if wait_until is None:
        positions = settle(
            ctx.book,
            ctx.client_for,
            account,
            ids.tolist(),
            batch,
            write=False,
            grace=grace,
            recipients=recipient_of,
        )
    else:
        positions = settle_waiting(
            ctx.book,
            ctx.client_for,
            account,
            ids.tolist(),
            batch,
            deadline=wait_until,
            say=ctx.say,
            grace=grace,
            recipients=recipient_of,
        )

    for ref in positions.found:
        ctx.say(f"Order {ref} is at Tango although its run never heard: its rows count as sent")
    for ref in positions.voided:
        ctx.say(f"Order {ref} never reached Tango and its run is gone: its rows are free")
    existing = ctx.book.batch_orders(batch)
    result = plan_batch(
        valid_rows,
        account=account,
        customer=customer,
        chunk_size=chunk_size,
        positions=positions,
        ids=ids,
        recipients=recipients,
        first_chunk=max((o.chunk_index for o in existing), default=-1) + 1,
    )
    resumed = int((result.standing == Standing.RESUMED).sum())
    again = f" ({resumed} in orders planned before, resent as they were)" if resumed else ""
    ctx.say(
        f"Batch {result.batch}: {result.unsent} rows to send{again}, "
        f"{result.order_count} new orders; {len(result.already_sent)} sent before, "
        f"{len(result.busy)} being sent by other runs"
    )

    return result


def cost(plan: Plan, account: Account) -> CostPreview:
    return CostPreview(
        currency=account.currencyCode,
        cost=plan.costs.get(account.currencyCode, Decimal(0)),
        balance=account.currentBalance,
        rows=plan.unsent,
        account=account.accountIdentifier,
    )


def record(ctx: Context, plan: Plan, sheet: Sheet, lease_seconds: float) -> Claimed:
    """Write the batch's orders into the ledger before anything is sent, and take the batch's
    lease (see :mod:`.ledger`)."""
    claimed = ctx.book.claim(
        batch=plan.batch,
        account=plan.account,
        customer=plan.customer,
        source_name=Path(sheet.source).name,
        source_sha256=_sha256(sheet.source),
        planned=plan.new_orders(),  # made and recorded one at a time
        lines=plan.new_lines,
        lease_seconds=lease_seconds,
    )
    plan.new_lines = plan.new_lines.iloc[:0]  # recorded: the ledger holds them now
    return Claimed(orders=[], lease=claimed.lease)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def batch_refs(book: Ledger, batch: str) -> list[str]:
    """The batch's orders that exist or may still be sent, in chunk order: not void."""
    return [o.external_ref_id for o in book.batch_orders(batch) if o.state is not OrderState.VOID]


def orders_to_await(book: Ledger, plan: Plan) -> list[str]:
    """The batch's orders, and the unfinished orders of other batches that hold rows of this
    file (a run that died after Tango took them never learnt how they ended: this run does,
    for the ledger and for its report)."""
    theirs = sorted(set(plan.already_sent.get("sent_in_order", [])))
    unfinished = [r for r in theirs if (o := book.order(r)) and o.state is OrderState.ACCEPTED]
    return batch_refs(book, plan.batch) + unfinished


def submit(
    ctx: Context,
    refs: list[str],
    keeper: LeaseKeeper,
    *,
    concurrency: int,
    deadline: float,
    by: str | None = None,
) -> dict[str, int]:
    """POST each of ``refs`` still planned, ``concurrency`` at a time, riding out Tango
    outages until ``deadline`` (monotonic); returns how many ended how."""
    book = ctx.book
    planned = [r for r in refs if (o := book.order(r)) and o.state is OrderState.PLANNED]
    retry = sending.patient(deadline, ctx.warn)

    def one(ref: str) -> Submitted:
        order = book.order(ref)
        assert order is not None
        return sending.submit(ctx.client_for(order), book, ref, keeper, retry, by=by)

    counts: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for done, outcome in enumerate(pool.map(one, planned), start=1):
            counts[outcome.value] = counts.get(outcome.value, 0) + 1
            progress.report("orders submitted", done, len(planned))
    if planned:
        ctx.say(f"Submitted {len(planned)} orders: {counts}")
    return counts


class Waiter:
    """Orders still to finish, refreshed from Tango's summary endpoint (the authority),
    ``concurrency`` at a time; each refresh is reported to :mod:`.progress`."""

    def __init__(self, ctx: Context, refs: list[str], concurrency: int, retry: RetryPolicy) -> None:
        self.ctx, self.concurrency, self.retry = ctx, concurrency, retry
        states = {r: ctx.book.order(r) for r in refs}
        self.waiting = {r for r, o in states.items() if o and o.state is OrderState.ACCEPTED}
        self.total = len(refs)
        self._told = -1

    @property
    def done(self) -> int:
        return self.total - len(self.waiting)

    def _refresh_one(self, ref: str) -> bool:
        order = self.ctx.book.order(ref)
        assert order is not None
        return sending.refresh(self.ctx.client_for(order), self.ctx.book, ref, self.retry)

    def refresh(self, refs: set[str] | list[str]) -> None:
        todo = sorted(r for r in refs if r in self.waiting)
        # Tango's latency, not our work, is the cost of a poll: ask about several orders at once
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for ref, final in zip(todo, pool.map(self._refresh_one, todo), strict=True):
                if final:
                    self.waiting.discard(ref)
        progress.report("orders finished", self.done, self.total)
        if len(self.waiting) != self._told:  # a line as the count moves
            self._told = len(self.waiting)
            share = 100.0 * self.done / self.total if self.total else 100.0
            self.ctx.say(f"{self.done} of {self.total} orders finished ({share:.0f}%)")

    def poll(self, deadline: float, pause: float) -> None:
        """Refresh with backoff (to 30 s) until every order is final or ``deadline``."""
        while self.waiting:
            self.refresh(set(self.waiting))
            if not self.waiting or time.monotonic() + pause > deadline:
                return
            time.sleep(pause)
            pause = min(pause * 1.5, 30.0)


def reconcile_batch(
    ctx: Context,
    sheet: Sheet,
    validated: Validated,
    plan: Plan,
    mode: Mode = Mode.SEND,
    unsent_reason: str = "not submitted",
) -> Reconciliation:
    """The report of every input row against the ledger as it is now; when this run took
    over rows of a dead run, it first makes sure that run's orders did not reach Tango late."""
    late = arrived_late(ctx.book, ctx.client_for, plan.voided) if mode is Mode.SEND else {}
    for ref, lines in late.items():
        if lines is not None:
            ctx.warn(
                f"Order {ref} reached Tango after its rows were taken over: {len(lines)} twice"
            )

    lines = ctx.book.line_table(plan.batch)
    return reconcile(
        original=sheet.frame,
        rejected=validated.rejected,
        valid=plan.rows,  # the valid rows with their line ids
        batch=plan.batch,
        holders=ctx.book.holder_table(plan.account, plan.line_ids.array, plan.recipients.array),
        ledger_lines=lines,
        ledger_orders=ctx.book.batch_orders(plan.batch),
        mode=mode,
        extra_columns=sheet.unknown_columns,
        unsent_reason=unsent_reason,
        late=late,
        after_sending=ctx.book.after_sending(lines["reference_line_item_id"].dropna().tolist())
        if mode is Mode.SEND
        else None,
    )


def write_report_files(result: Reconciliation, validated: Validated, folder: Path) -> list[Path]:
    """The report's files: every row's outcome, the rejected rows and the warned ones, the
    failed deliveries ready to fix, the totals by reward, method and currency."""
    written = export.write_table(result.report, folder, "report")
    written += export.write_if_any(validated.rejected, folder, "rejected_rows")
    # rows that went on but should be looked at
    written += export.write_if_any(validated.warnings, folder, "warnings")
    # ready to fix: type the new contact, upload it back
    written += export.write_if_any(
        export.failed_deliveries(result.report), folder, "failed_deliveries"
    )
    for name, frame in (
        ("by_reward", result.by_reward),
        ("by_method", result.by_method),
        ("money", result.money),
    ):
        frame.to_csv(folder / f"{name}.csv", index=False)
        written.append(folder / f"{name}.csv")  # listed, with a link, on the run's page
    return written


@dataclass
class Sent:
    """What :func:`send_file` did."""

    validated: Validated
    plan: Plan
    cost: CostPreview
    result: Reconciliation | None  # None: the balance gate stopped it before sending


def send_file(
    ctx: Context,
    path: str | Path,
    client: RaasClient,
    *,
    options: ValidationOptions | None = None,
    chunk_size: int = 250,
    concurrency: int = 4,
    timeout_s: float = 300,
    poll_interval_s: float = 0.1,
    lease_seconds: float = 300,
    confined: bool = True,
    reports_dir: Path | None = None,
) -> Sent:
    """The flow's steps in the flow's order, without Prefect (no approval pause, no
    artifacts): what benchmarks and proof campaigns measure against the flow. With
    ``reports_dir``, the report's files are written as a run writes them."""
    deadline = time.monotonic() + timeout_s
    sheet = load(path, None, confined)
    account = client.get_account()
    validated = validate(
        sheet.frame, client.get_catalog(), account.currencyCode, options, sheet.header_map
    )
    sheet = sheet.for_report()
    customer = client.settings.customer_identifier or ""
    the_plan = plan(
        ctx,
        validated.valid,
        account=account.accountIdentifier,
        customer=customer,
        chunk_size=chunk_size,
        wait_until=deadline,
    )
    price = cost(the_plan, account)
    if price.shortfall:
        return Sent(validated, the_plan, price, None)
    claimed = record(ctx, the_plan, sheet, lease_seconds)
    margin = submit_margin(client.settings.timeout_seconds)
    with LeaseKeeper(ctx.book, claimed.lease, lease_seconds, margin) as keeper:
        refs = batch_refs(ctx.book, the_plan.batch)
        submit(ctx, refs, keeper, concurrency=concurrency, deadline=deadline)
    retry = sending.patient(deadline, ctx.warn)
    waiter = Waiter(ctx, orders_to_await(ctx.book, the_plan), concurrency, retry)
    waiter.poll(deadline, poll_interval_s)
    result = reconcile_batch(ctx, sheet, validated, the_plan)
    if reports_dir is not None:
        write_report_files(result, validated, export.report_folder(reports_dir, the_plan.batch))
    return Sent(validated, the_plan, price, result)
