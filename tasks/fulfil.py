"""The fulfil-rewards steps as Prefect tasks: thin wrappers over ``rewards`` and ``raas``.

No Prefect retries here: the client already retries what is safe to retry (Tango's rules),
and stacking retries would only multiply attempts. Caching is off: the ledger, not Prefect,
decides what has been done.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE

from raas import Account, Catalog
from rewards import export, progress, sending, sources
from rewards.errors import InputError
from rewards.identity import batch_id, line_item_ids
from rewards.planning import Plan, plan_batch
from rewards.reading import Sheet, read_recipients
from rewards.reconcile import Reconciliation, reconcile
from rewards.validation import Validated, ValidationOptions, validate

from .tango import ledger, tango_client

ARTIFACT_ROWS = 500  # the UI struggles with huge tables; the files hold everything


@task(name="load-spreadsheet", cache_policy=NO_CACHE)
def load_spreadsheet(path: str, sheet_name: str | None) -> Sheet | InputError:
    """The sheet, or the :class:`InputError` that explains why it cannot be used (returned,
    not raised: an expected mistake gets a message, not a traceback in the task log)."""
    try:
        sheet = read_recipients(sources.confine(path), sheet_name)
    except InputError as exc:
        return exc
    get_run_logger().info(
        "Read %d rows from %s (%s)",
        len(sheet.frame),
        Path(path).name,
        sheet.encoding or f"sheet {sheet.sheet_name!r}",
    )
    return sheet


@task(name="fetch-account-and-catalog", cache_policy=NO_CACHE)
def fetch_account_and_catalog(customer: str | None, account: str | None) -> tuple[Account, Catalog]:
    client = tango_client(customer, account)
    return client.get_account(), client.get_catalog()


@task(name="validate-rows", cache_policy=NO_CACHE)
def validate_rows(
    sheet: Sheet, catalog: Catalog, currency: str, options: ValidationOptions
) -> Validated:
    result = validate(sheet.frame, catalog, currency, options)
    get_run_logger().info("%d rows valid, %d rejected", len(result.valid), len(result.rejected))
    return result


@task(name="plan-orders", cache_policy=NO_CACHE)
def plan_orders(
    validated: Validated, *, account: str, customer: str, chunk_size: int, ledger_url: str
) -> Plan:
    book = ledger(ledger_url)
    ids = line_item_ids(validated.valid, account)
    existing = book.batch_orders(batch_id(ids.tolist(), account))
    plan = plan_batch(
        validated.valid,
        account=account,
        customer=customer,
        chunk_size=chunk_size,
        owners=book.owners(account, ids.tolist()),
        ids=ids,
        first_chunk=max((o["chunk_index"] for o in existing), default=-1) + 1,
    )
    get_run_logger().info(
        "Batch %s: %d rows to send in %d new orders, %d already sent",
        plan.batch,
        len(plan.to_send),
        len(plan.new_orders),
        len(plan.already_sent),
    )
    return plan


@task(name="check-balance", cache_policy=NO_CACHE)
def check_balance(plan: Plan, account: Account) -> dict[str, Any]:
    """The cost preview; ``stop`` says why not to send when the account cannot pay."""
    cost = plan.costs.get(account.currencyCode, Decimal(0))
    short = cost - account.currentBalance
    preview: dict[str, Any] = {
        "currency": account.currencyCode,
        "cost": f"{cost:.2f}",
        "balance": f"{account.currentBalance:.2f}",
        "shortfall": f"{max(short, Decimal(0)):.2f}",
        "stop": None,
    }
    if short > 0:
        preview["stop"] = (
            f"account {account.accountIdentifier} cannot pay for this batch: it costs "
            f"{cost:.2f} {account.currencyCode}, the balance is {account.currentBalance:.2f}, "
            f"short by {short:.2f}. Nothing was sent; fund the account and run again"
        )
    return preview


@task(name="record-orders", cache_policy=NO_CACHE)
def record_orders(plan: Plan, sheet: Sheet, ledger_url: str) -> list[str]:
    """Write the batch's orders into the ledger before anything is sent; returns every order
    of the batch still to submit or to await (new and resumed)."""
    book = ledger(ledger_url)
    rows = {
        r["line_id"]: (int(r["row_number"]), r["amount"], r["currency"])
        for r in plan.to_send[["line_id", "row_number", "amount", "currency"]].to_dict("records")
    }
    book.claim(
        batch=plan.batch,
        account=plan.account,
        customer=plan.customer,
        source_name=Path(sheet.source).name,
        source_sha256=_sha256(sheet.source),
        planned=plan.new_orders,
        rows=rows,
    )
    return open_orders(plan.batch, ledger_url)


def open_orders(batch: str, ledger_url: str) -> list[str]:
    """The batch's orders still to submit or to await, and those already final, in chunk
    order (everything the report covers)."""
    return [
        o["external_ref_id"]
        for o in ledger(ledger_url).batch_orders(batch)
        if o["state"] in ("planned", "accepted", "final")
    ]


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@task(name="submit-order", cache_policy=NO_CACHE)
def submit_order(external_ref_id: str, ledger_url: str) -> str:
    """POST one recorded order (safe to repeat; see :func:`rewards.sending.submit`)."""
    book = ledger(ledger_url)
    row = book.order(external_ref_id)
    if row is None:
        return "missing"
    client = tango_client(row["customer_identifier"], row["account_identifier"])
    return sending.submit(client, book, external_ref_id)


class _Waiter:
    """The orders of a batch still to finish, refreshed from Tango's summary endpoint, with
    the progress artifact kept up to date."""

    def __init__(self, refs: list[str], ledger_url: str, batch: str, concurrency: int) -> None:
        self.book = ledger(ledger_url)
        self.concurrency = concurrency
        self.orders = {o["external_ref_id"]: o for o in self.book.batch_orders(batch)}
        self.waiting = {r for r in refs if self.orders.get(r, {}).get("state") == "accepted"}
        self.total = len(refs)
        self._last_logged = -1
        self.progress = create_progress_artifact(
            self._percent(), description=f"Orders finished out of {self.total}"
        )

    def _percent(self) -> float:
        return 100.0 * (self.total - len(self.waiting)) / self.total if self.total else 100.0

    def _refresh_one(self, ref: str) -> bool:
        o = self.orders[ref]
        client = tango_client(o["customer_identifier"], o["account_identifier"])
        return sending.refresh(client, self.book, ref)

    def refresh(self, refs: set[str] | list[str]) -> None:
        todo = sorted(r for r in refs if r in self.waiting)
        # Tango's latency, not our work, is the cost of a poll: ask about several orders at once
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for ref, final in zip(todo, pool.map(self._refresh_one, todo), strict=True):
                if final:
                    self.waiting.discard(ref)
        progress.report("orders finished", self.total - len(self.waiting), self.total)
        done = f"{self.total - len(self.waiting)} of {self.total} orders finished"
        update_progress_artifact(self.progress, self._percent(), description=done)
        if len(self.waiting) != self._last_logged:  # a progress line in the CLI and the UI log
            self._last_logged = len(self.waiting)
            get_run_logger().info("%s (%.0f%%)", done, self._percent())


def _poll(waiter: _Waiter, deadline: float, pause: float) -> None:
    while waiter.waiting:
        waiter.refresh(set(waiter.waiting))
        if not waiter.waiting or time.monotonic() + pause > deadline:
            return
        time.sleep(pause)
        pause = min(pause * 1.5, 30.0)


async def _listen(waiter: _Waiter, batch: str, deadline: float, fallback_s: float) -> None:
    """Each ``tango.async-order.status`` event for the batch is a hint: GET that order's
    summary (the authority). A fallback poll runs all the while, so a lost webhook only
    delays completion."""
    import asyncio

    from prefect.events.clients import get_events_subscriber
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    from webhooks.config import EVENT_NAME, RESOURCE_PREFIX

    hints: asyncio.Queue[str] = asyncio.Queue()
    wanted = EventFilter(
        event=EventNameFilter(name=[EVENT_NAME]),
        resource=EventResourceFilter(id_prefix=[f"{RESOURCE_PREFIX}rw-{batch}-"]),
    )

    async def read(subscriber: object) -> None:
        async for event in subscriber:  # type: ignore[attr-defined]
            await hints.put(event.resource.id.removeprefix(RESOURCE_PREFIX))

    async with get_events_subscriber(filter=wanted) as subscriber:
        reader = asyncio.create_task(read(subscriber))
        try:
            await asyncio.to_thread(
                waiter.refresh, set(waiter.waiting)
            )  # events before we listened
            next_poll = time.monotonic() + fallback_s
            while waiter.waiting and time.monotonic() < deadline:
                wait = max(0.0, min(next_poll, deadline) - time.monotonic())
                try:
                    ref = await asyncio.wait_for(hints.get(), wait)
                    refs = {ref}
                    while not hints.empty():
                        refs.add(hints.get_nowait())
                except TimeoutError:
                    refs = set(waiter.waiting)
                    next_poll = time.monotonic() + fallback_s
                await asyncio.to_thread(waiter.refresh, refs)
        finally:
            reader.cancel()


@task(name="await-completion", cache_policy=NO_CACHE)
def await_completion(
    refs: list[str],
    *,
    ledger_url: str,
    timeout_seconds: float,
    poll_interval_seconds: float,
    batch: str,
    mode: str = "poll",
    concurrency: int = 4,
) -> dict[str, int]:
    """Wait until every order of the batch is final or the timeout passes: by polling with
    backoff, or (``mode="webhook"``) on Prefect events from the webhook receiver with a
    fallback poll every ``poll_interval_seconds``; ``concurrency`` orders are asked about at
    once."""
    import asyncio

    waiter = _Waiter(refs, ledger_url, batch, concurrency)
    deadline = time.monotonic() + timeout_seconds
    if mode == "webhook":
        asyncio.run(_listen(waiter, batch, deadline, poll_interval_seconds))
    else:
        _poll(waiter, deadline, poll_interval_seconds)
    if waiter.waiting:
        get_run_logger().warning(
            "%d orders still pending after %.0f s; run the same file again to refresh the report",
            len(waiter.waiting),
            timeout_seconds,
        )
    return {"orders": waiter.total, "pending": len(waiter.waiting)}


@task(name="reconcile", cache_policy=NO_CACHE)
def reconcile_batch(
    sheet: Sheet,
    validated: Validated,
    plan: Plan,
    ledger_url: str,
    unsent_reason: str = "not submitted",
) -> Reconciliation:
    book = ledger(ledger_url)
    return reconcile(
        original=sheet.frame,
        rejected=validated.rejected,
        to_send=plan.to_send,
        already_sent=plan.already_sent,
        ledger_lines=book.batch_lines(plan.batch),
        ledger_orders=book.batch_orders(plan.batch),
        extra_columns=sheet.unknown_columns,
        unsent_reason=unsent_reason,
    )


def summary_markdown(
    title: str,
    result: Reconciliation,
    source: str,
    folder: Path | None,
    preview: dict[str, Any] | None = None,
    note: str | None = None,
) -> str:
    c = result.counts
    lines = [f"# {title}", "", f"Source: `{Path(source).name}`", ""]
    if note:
        lines += [f"**{note}**", ""]
    lines += [
        "| rows in | rejected | already sent | submitted | complete | failed | pending | "
        "scheduled |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {c['rows_in']} | {c['rejected']} | {c['already_sent']} | {c['submitted']} | "
        f"{c['complete']} | {c['failed'] + c['cancelled'] + c['rejected_by_tango'] + c['not_submitted']} | "
        f"{c['pending']} | {c['scheduled']} |",
        "",
    ]
    if preview:
        lines += [
            f"Cost of this run: **{preview['cost']} {preview['currency']}**; balance "
            f"{preview['balance']}.",
            "",
        ]
    if len(result.money):
        lines += ["| currency | requested | charged | released |", "|---|---:|---:|---:|"]
        lines += [
            f"| {r.currency} | {r.requested:.2f} | {r.charged:.2f} | {r.released:.2f} |"
            for r in result.money.itertuples()
        ]
        lines.append("")
    lines.append(
        "Books: **balanced**"
        if result.balanced
        else "Books: **DO NOT BALANCE** — " + "; ".join(result.discrepancies)
    )
    if folder:
        lines += ["", f"Full report: `{folder}`"]
    return "\n".join(lines)


@task(name="publish-report", cache_policy=NO_CACHE)
def publish_report(
    result: Reconciliation,
    validated: Validated,
    source: str,
    folder: Path,
    batch: str,
    *,
    title: str,
    preview: dict[str, Any] | None = None,
    note: str | None = None,
) -> list[str]:
    """Files first (the record), then artifacts (the view): summary, problems, results, link."""
    written = export.write_table(result.report, folder, "report")
    if len(validated.rejected):
        written += export.write_table(validated.rejected, folder, "rejected_rows")
    for name, frame in (
        ("by_reward", result.by_reward),
        ("by_method", result.by_method),
        ("money", result.money),
    ):
        frame.to_csv(folder / f"{name}.csv", index=False)
    if len(result.report) > export.XLSX_MAX_ROWS:
        skipped = f"report.xlsx not written for {len(result.report):,} rows: open report.csv"
        note = f"{note}; {skipped}" if note else skipped
    markdown = summary_markdown(title, result, source, folder, preview, note)
    (folder / "summary.md").write_text(markdown)
    key = f"fulfil-{batch.lower()}"
    create_markdown_artifact(markdown, key=f"{key}-summary", description="Run summary")
    problems = validated.problems.head(ARTIFACT_ROWS)
    if len(problems):
        create_table_artifact(
            export.neutralise(problems).to_dict("records"),
            key=f"{key}-problems",
            description=f"Rejected rows: first {len(problems)} of "
            f"{len(validated.problems)} problems",
        )
    view = result.report.head(ARTIFACT_ROWS)[
        [
            "row_number",
            "outcome",
            "email",
            "utid",
            "amount_requested",
            "amount_charged",
            "currency",
            "line_item_status",
            "delivery_status",
            "reason",
        ]
    ].copy()
    view["email"] = view["email"].map(export.mask_email)
    create_table_artifact(
        export.neutralise(view).fillna("").to_dict("records"),
        key=f"{key}-results",
        description=f"Results: first {len(view)} of {len(result.report)} rows "
        "(emails masked; the files hold all rows)",
    )
    create_link_artifact(
        folder.resolve().as_uri(), link_text=f"Report files ({folder})", key=f"{key}-files"
    )
    return [str(p) for p in written]
