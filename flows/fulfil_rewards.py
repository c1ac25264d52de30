"""fulfil-rewards: a recipient spreadsheet in, every reward sent exactly once, a report out."""

from __future__ import annotations

import time
from dataclasses import dataclass

from prefect import flow, get_run_logger
from prefect.states import Cancelled, Completed, Failed, State
from prefect.utilities.annotations import quote
from pydantic import Field

from flows.approval import ask, cancelled_while_waiting, earlier_approval
from flows.naming import run_name, tag_run
from flows.scan_inbox import taken_by_another_run
from flows.send_orders import fan_out as start_shares
from raas import RaasError
from rewards import export
from rewards.errors import RewardsError
from rewards.ledger import LeaseKeeper, submit_margin
from rewards.params import (
    DEFAULT_CHUNK,
    Approval,
    CompletionMode,
    Money,
    RewardsSettings,
    SendOptions,
    phone_region,
)
from rewards.planning import Plan
from rewards.reading import Sheet
from rewards.reconcile import Mode, Reconciliation, refused
from rewards.steps import batch_refs, orders_to_await
from rewards.summary import CostPreview, RunStoppedError, RunSummary
from rewards.validation import Validated, ValidationOptions
from tasks.completion import await_completion
from tasks.fulfil import (
    check_balance,
    expected_ending,
    fetch_account_and_catalog,
    load_spreadsheet,
    plan_orders,
    reconcile_batch,
    record_orders,
    submit_orders,
    validate_rows,
)
from tasks.progress import ProgressCards
from tasks.report import show_report, write_report
from tasks.tango import identifiers, ledger, tango_client


@flow(
    name="fulfil-rewards",
    flow_run_name=run_name,
    log_prints=True,
    on_cancellation=[cancelled_while_waiting],
)
def fulfil_rewards(
    source_path: str = Field(
        "",
        description="The spreadsheet (.csv or .xlsx): a path on the machine that serves "
        "this deployment, relative to the folder `rewards serve` started in. Uploads land "
        "in the inbox (REWARDS_INBOX_DIR, default data/inbox).",
    ),
    dry_run: bool = Field(False, description="Check the file and show the cost; send nothing"),
    approval_threshold: Money = Field(
        0,
        description="Pause for approval when the cost is above this amount. The team's "
        "threshold (`rewards serve --approval-threshold`) always applies: a run can lower it "
        "here, never raise or remove it (0: the team's alone)",
    ),
    approval_timeout_seconds: int = Field(
        3600, ge=1, description="Without an answer by then, nothing is sent"
    ),
    account_identifier: str = Field(
        "", description="Tango account to charge (empty: TANGO_ACCOUNT_IDENTIFIER)"
    ),
    customer_identifier: str = Field(
        "", description="Tango customer (empty: TANGO_CUSTOMER_IDENTIFIER)"
    ),
    campaign: str = Field(
        "",
        description="Campaign for rows that name none; a new campaign sends the same "
        "reward to the same person again on purpose",
    ),
    sheet_name: str = Field(
        "", description="XLSX sheet to read (empty: the one visible sheet with recipients)"
    ),
    default_phone_country: str = Field(
        "US", description="Country for phone numbers written without +country code"
    ),
    all_or_nothing: bool = Field(
        False, description="Any rejected row stops the run before anything is sent"
    ),
    max_line_items_per_order: int = Field(
        DEFAULT_CHUNK, ge=1, le=5000, description="Line items per async order"
    ),
    submit_concurrency: int = Field(4, ge=1, le=32, description="Orders submitted at once"),
    fan_out: int = Field(
        0,
        ge=0,
        le=64,
        description="Spread the orders over this many send-orders runs on the work pool "
        "(set it to the number of workers); 0 sends them from this run",
    ),
    completion_mode: CompletionMode = Field(
        CompletionMode.AUTO,
        description="How to learn that orders finished: webhook (the receiver's events, "
        "with a fallback poll), poll, or auto (webhooks when REWARDS_WEBHOOK_RECEIVER is set)",
    ),
    timeout_seconds: float = Field(
        3600, gt=0, description="Give up waiting for Tango after this long"
    ),
    poll_interval_seconds: float = Field(
        2.0, gt=0, description="First pause between polls (grows to 30 s)"
    ),
) -> State[RunSummary]:
    """Send the rewards listed in one spreadsheet."""
    settings = RewardsSettings()
    options = SendOptions(
        submit_concurrency=submit_concurrency,
        fan_out=fan_out,
        completion_mode=_resolve(completion_mode, settings),
        timeout_seconds=timeout_seconds,
        poll_interval_seconds=poll_interval_seconds,
    )
    approval = Approval(
        threshold=approval_threshold or None,
        floor=settings.approval_threshold,
        timeout_seconds=approval_timeout_seconds,
    )
    if overruled := approval.overruled():
        get_run_logger().warning("%s", overruled)
    try:
        if not source_path.strip():
            raise RewardsError("source_path is empty: give the path of the spreadsheet to send")
        if other := taken_by_another_run(source_path):
            return Cancelled(message=other)
        customer, account_id = identifiers(customer_identifier, account_identifier)
        tag_run(account_id, campaign=campaign, dry_run=dry_run)
        margin = _margin(settings)
        deadline = time.monotonic() + timeout_seconds
        check = ValidationOptions(
            default_phone_country=phone_region(default_phone_country)
            if default_phone_country
            else None,
            default_campaign=campaign or None,
        )

        sheet = load_spreadsheet(source_path, sheet_name or None)
        account, catalog = fetch_account_and_catalog(customer, account_id, deadline)
        # quote(): big inputs pass by reference; Prefect would otherwise walk every cell of them
        validated = validate_rows(quote(sheet), catalog, account.currencyCode, check)
        plan = plan_orders(
            quote(validated),
            account=account_id,
            customer=customer,
            chunk_size=max_line_items_per_order,
            wait_until=None if dry_run else deadline,
        )
        cost = check_balance(quote(plan), account)
        run = _Run(sheet, validated, plan, cost, settings)
        if dry_run:
            return _stop(run, Mode.DRY_RUN, approval.ahead(cost))
        if stop := _gate(validated, cost, all_or_nothing):
            return _stop(run, Mode.STOPPED, stop)
        verdict = None
        if cost.rows and approval.needed(cost.cost):
            limit = approval.limit
            assert limit is not None  # needed() says there is one
            verdict = ask(plan, cost, validated, limit, approval.timeout_seconds, sheet.source)

            if not verdict.approved:
                return _stop(run, Mode.STOPPED, verdict.text(), cancelled=True)
        trouble = _send(run, options, deadline, margin)
        said = verdict.text() if verdict else earlier_approval(plan.batch)
        return _finish(run, [said] if said else [], trouble)

    except (RewardsError, RaasError) as exc:  # an expected stop: a clear message, no traceback
        return expected_ending(exc)


@dataclass(frozen=True)
class _Run:
    """What a run found before it sent: the file, its rows, the plan, the cost."""

    sheet: Sheet
    validated: Validated
    plan: Plan
    cost: CostPreview
    settings: RewardsSettings


def _send(run: _Run, options: SendOptions, deadline: float, margin: float) -> list[str]:
    """Record the orders, submit them (or share them out) under the batch's lease, and wait
    for them; returns what went wrong on the way. From here on a run always ends with a report,
    even when Tango gave out: what reached Tango and what did not is what a person needs then."""
    settings, plan = run.settings, run.plan
    claimed = record_orders(quote(plan), quote(run.sheet), settings.lease_seconds)
    refs = batch_refs(ledger(), plan.batch)
    trouble: list[str] = []
    cards = ProgressCards(len(refs))  # on the run's page, moving while it sends and waits
    try:
        with LeaseKeeper(ledger(), claimed.lease, settings.lease_seconds, margin) as keeper:
            if options.fan_out and refs:  # workers share the orders; this run finishes
                start_shares(plan.batch, min(options.fan_out, len(refs)), claimed.lease, options)
            submit_orders(refs, keeper, options.submit_concurrency, deadline, cards)
    except RewardsError as exc:
        trouble.append(str(exc))
    try:  # even after a failed submission: how the orders that went out are doing
        waited = await_completion(
            orders_to_await(ledger(), plan),
            batch=plan.batch,
            mode=options.completion_mode,
            deadline=deadline,
            poll_interval_seconds=options.poll_interval_seconds,
            concurrency=options.submit_concurrency,
            cards=cards,
        )
        if waited["pending"]:
            trouble.append(f"{waited['pending']} order(s) still pending at the timeout")
    except RewardsError as exc:
        trouble.append(str(exc))
    return trouble


def _finish(run: _Run, said: list[str], trouble: list[str]) -> State[RunSummary]:
    """Reconcile with the ledger as it is now, publish, and end the run: Completed when the
    books balance (every valid row at Tango, every charge as Tango's), Failed otherwise."""
    result = reconcile_batch(quote(run.sheet), quote(run.validated), quote(run.plan))
    earlier = result.counts.get("submitted", 0) - run.cost.rows  # at Tango before this run
    before = (
        [
            f"{earlier} of them were sent by an earlier run of this batch (nothing twice; "
            "the report's money is the batch's, all runs)"
        ]
        if earlier > 0
        else []
    )
    notes = [*said, *before, *trouble]

    summary = _publish(run, result, Mode.SEND, "; ".join(notes) or None)
    if not result.balanced:
        message = "; ".join(
            [*notes, "the books do not balance: " + "; ".join(result.discrepancies)]
        )
        get_run_logger().error("%s", message)
        return Failed(
            message=f"{summary.line()}; {message}; report: {summary.report_dir}",
            data=RunStoppedError(message, summary),
        )
    if said_no := refused(result):  # not sent: someone must act before they can be
        message = "; ".join([*notes, said_no])
        get_run_logger().error("%s", message)
        return Failed(
            message=f"{summary.line()}; {message}; report: {summary.report_dir}",
            data=RunStoppedError(message, summary),
        )
    done = "; ".join([summary.line(), *notes])  # who approved it, if someone did
    get_run_logger().info("Done: %s", done)
    return Completed(message=done, data=summary)


def _stop(run: _Run, mode: Mode, reason: str | None, cancelled: bool = False) -> State[RunSummary]:
    """A dry run or a gate: publish what was found (nothing sent) and end the run."""
    result = reconcile_batch(
        quote(run.sheet),
        quote(run.validated),
        quote(run.plan),
        mode=mode,
        unsent_reason="dry run: not sent" if mode is Mode.DRY_RUN else f"not sent: {reason}",
    )
    summary = _publish(run, result, mode, reason)
    logger = get_run_logger()
    if summary.dry_run:
        message = "; ".join(
            [f"dry run: {summary.line()}", run.cost.text(), *filter(None, [reason])]
        )

        logger.info("%s", message)
        return Completed(message=message, data=summary)
    logger.warning("%s", reason)
    stopped = RunStoppedError(reason or "stopped", summary)
    if cancelled:
        return Cancelled(message=reason, data=stopped)
    return Failed(message=reason, data=stopped)


def _publish(run: _Run, result: Reconciliation, mode: Mode, note: str | None) -> RunSummary:
    """The report's files in the batch's folder (a dry run's in a folder of its own), and
    its view on the run's page."""
    dry, batch = mode is Mode.DRY_RUN, run.plan.batch
    folder = export.report_folder(run.settings.reports_dir, batch, dry_run=dry)
    titles = {
        Mode.SEND: "Rewards sent",
        Mode.STOPPED: "Stopped before sending",
        Mode.DRY_RUN: "Dry run: nothing sent",
    }
    tables = {
        Mode.SEND: "Who got what",
        Mode.STOPPED: "Nothing was sent: the rows",
        Mode.DRY_RUN: "Who would get what (dry run: nothing was sent)",
    }
    view = write_report(
        quote(result),
        quote(run.validated),
        run.sheet.source,
        folder,
        f"{'dry-run' if dry else 'fulfil'}-{batch.lower()}",
        title=titles[mode],
        cost=run.cost,
        note=note,
        books=mode is Mode.SEND,
        results_title=tables[mode],
    )
    show_report(view)
    return RunSummary(
        batch=batch,
        report_dir=str(folder),
        counts=result.counts,
        files=view.written,
        balanced=result.balanced if mode is Mode.SEND else None,
        cost=run.cost,
        dry_run=dry,
        note=note,
    )


def _resolve(mode: CompletionMode, settings: RewardsSettings) -> CompletionMode:

    if mode is CompletionMode.AUTO:
        return CompletionMode.WEBHOOK if settings.webhook_receiver else CompletionMode.POLL
    return mode


def _margin(settings: RewardsSettings) -> float:
    margin = submit_margin(tango_client().settings.timeout_seconds)
    if settings.lease_seconds <= margin + 1:
        raise RewardsError(
            f"REWARDS_LEASE_SECONDS ({settings.lease_seconds:g}) must be more than "
            f"{margin + 1:g} s: twice TANGO_TIMEOUT_SECONDS and two seconds more"
        )
    return margin


def _gate(validated: Validated, cost: CostPreview, all_or_nothing: bool) -> str | None:
    """Why not to send at all, if there is a reason."""
    if all_or_nothing and len(validated.rejected):
        return (
            f"all_or_nothing: {len(validated.rejected)} row(s) were rejected, so nothing "
            "was sent; fix them (see rejected_rows.csv in the report folder) and run again"
        )
    if validated.rows_in and len(validated.rejected) == validated.rows_in:
        return (
            f"every row ({validated.rows_in}) was rejected, so nothing was sent; fix them "
            "(see rejected_rows.csv in the report folder) and run again"
        )

    if cost.shortfall:
        return (
            f"account {cost.account} cannot pay for this batch: it costs {cost.cost:.2f} "
            f"{cost.currency}, the balance is {cost.balance:.2f}, short by "
            f"{cost.shortfall:.2f}. Nothing was sent; fund the account and run again"
        )
    return None
