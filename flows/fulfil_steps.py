"""The fulfil-rewards run beyond its tasks: sending under the batch's lease, the run's
endings (sent, stopped, dry run) and publishing the report. The flow tells the story
(:mod:`flows.fulfil_rewards`); these are its chapters."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger
from prefect.states import Cancelled, Completed, Failed, State
from prefect.utilities.annotations import quote

from flows.send_orders import fan_out as start_shares
from rewards import export
from rewards.errors import RewardsError
from rewards.ledger import LeaseKeeper, submit_margin
from rewards.params import (
    CompletionMode,
    RewardsSettings,
    SendOptions,
)
from rewards.planning import Plan
from rewards.reading import Sheet
from rewards.reconcile import Mode, Reconciliation, refused
from rewards.steps import batch_refs, orders_to_await
from rewards.summary import CostPreview, RunStoppedError, RunSummary
from rewards.validation import Validated
from tasks.completion import await_completion
from tasks.fulfil import (
    reconcile_batch,
    record_orders,
    submit_orders,
)
from tasks.progress import ProgressCards
from tasks.report import show_report, write_report
from tasks.tango import ledger, tango_client


@dataclass(frozen=True)
class Run:
    """What a run found before it sent: the file, its rows, the plan, the cost."""

    sheet: Sheet
    validated: Validated
    plan: Plan
    cost: CostPreview
    settings: RewardsSettings


def send(run: Run, options: SendOptions, deadline: float, margin: float) -> list[str]:
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


def finish(run: Run, said: list[str], trouble: list[str]) -> State[RunSummary]:
    """Reconcile with the ledger as it is now, publish, and end the run: Completed when the
    books balance (every valid row at Tango, every charge as Tango's), Failed otherwise."""
    result = reconcile_batch(quote(run.sheet), quote(run.validated), quote(run.plan))
    submitted = result.counts.get("submitted", 0)
    earlier = max(submitted - run.cost.rows, 0)  # at Tango before this run began
    before = (
        [
            f"this run sent {submitted - earlier}; {earlier} row(s) were sent by an earlier "
            "run of this batch (none twice; the money shown is the batch's, all its runs)"
        ]
        if earlier
        else []
    )
    notes = [*said, *before, *trouble]

    summary = publish(run, result, Mode.SEND, "; ".join(notes) or None, sent_earlier=earlier)
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


def stop(
    run: Run,
    mode: Mode,
    reason: str | None,
    cancelled: bool = False,
    would_stop: str | None = None,
) -> State[RunSummary]:
    """A dry run or a gate: publish what was found (nothing sent) and end the run. A dry run
    whose real run would stop (``would_stop``: the gate's reason) says so and fails as that
    run would: "2 would be sent" and exit 0 told a script to go on."""
    result = reconcile_batch(
        quote(run.sheet),
        quote(run.validated),
        quote(run.plan),
        mode=mode,
        unsent_reason="dry run: not sent" if mode is Mode.DRY_RUN else f"not sent: {reason}",
    )
    summary = publish(run, result, mode, reason)
    logger = get_run_logger()
    if summary.dry_run:
        stops = f"the real run would stop: {would_stop}" if would_stop else None
        message = "; ".join(
            [f"dry run: {summary.line()}", run.cost.text(), *filter(None, [reason, stops])]
        )
        if stops:
            logger.warning("%s", message)
            return Failed(message=message, data=RunStoppedError(message, summary))
        logger.info("%s", message)
        return Completed(message=message, data=summary)
    logger.warning("%s", reason)
    stopped = RunStoppedError(reason or "stopped", summary)
    if cancelled:
        return Cancelled(message=reason, data=stopped)
    return Failed(message=reason, data=stopped)


def publish(
    run: Run, result: Reconciliation, mode: Mode, note: str | None, sent_earlier: int = 0
) -> RunSummary:
    """The report's files in the batch's folder (a dry run's in a folder of its own), and
    its view on the run's page. ``sent_earlier``: rows an earlier run of the batch sent."""
    dry, batch = mode is Mode.DRY_RUN, run.plan.batch
    folder = export.report_folder(run.settings.reports_dir, batch, dry_run=dry)
    nothing_new = sent_earlier and sent_earlier >= result.counts.get("submitted", 0)
    titles = {
        Mode.SEND: "Nothing new sent: an earlier run of this batch sent these rows"
        if nothing_new
        else "Rewards sent",
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
        sent_earlier=sent_earlier,
    )


def resolve_mode(mode: CompletionMode, settings: RewardsSettings) -> CompletionMode:

    if mode is CompletionMode.AUTO:
        return CompletionMode.WEBHOOK if settings.webhook_receiver else CompletionMode.POLL
    return mode


def lease_margin(settings: RewardsSettings) -> float:
    margin = submit_margin(tango_client().settings.timeout_seconds)
    if settings.lease_seconds <= margin + 1:
        raise RewardsError(
            f"REWARDS_LEASE_SECONDS ({settings.lease_seconds:g}) must be more than "
            f"{margin + 1:g} s: twice TANGO_TIMEOUT_SECONDS and two seconds more"
        )
    return margin


def gate(validated: Validated, cost: CostPreview, all_or_nothing: bool) -> str | None:
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
