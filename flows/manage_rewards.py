"""manage-rewards: an actions spreadsheet in (resend, reissue, cancel, reschedule, note,
freeze, unfreeze), each action done once at Tango, a report out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger
from prefect.states import Cancelled, Completed, Failed, State
from prefect.utilities.annotations import quote
from pydantic import Field

from flows.approval import ask_about, cancelled_while_waiting
from flows.naming import run_name, tag_run
from flows.scan_inbox import taken_by_another_run
from raas import Account, RaasError
from rewards import export
from rewards.actions import Checked, Planned
from rewards.errors import RewardsError
from rewards.managing import Acted, Done, Outcome, report
from rewards.params import (
    Approval,
    ApprovalSeconds,
    Money,
    RewardsSettings,
    Seconds,
    phone_region,
)
from rewards.reading import Sheet
from rewards.summary import CostPreview, RunStoppedError, RunSummary
from tasks.fulfil import expected_ending
from tasks.manage import (
    check_actions,
    do_actions,
    fetch_account,
    load_actions,
    preview_actions,
    record_actions,
    settle_lines,
)
from tasks.report import show_report, write_actions_report
from tasks.tango import identifiers


@flow(
    name="manage-rewards",
    flow_run_name=run_name,
    log_prints=True,
    on_cancellation=[cancelled_while_waiting],
)
def manage_rewards(
    source_path: str = Field(
        "",
        description="The actions spreadsheet (.csv or .xlsx; a report's failed_deliveries.csv "
        "is one): a path on the machine that serves this deployment, inside the folders "
        "files are read from (REWARDS_SOURCE_ROOTS: by default the inbox and data/). Uploads "
        "land in the inbox (REWARDS_INBOX_DIR, default data/inbox). Required.",
    ),
    dry_run: bool = Field(False, description="Check the actions and show the cost; do nothing"),
    approval_threshold: Money = Field(
        0,
        description="Pause for approval when reissues and resends of failed lines cost more "
        "than this. The team's threshold (`rewards serve --approval-threshold`) always "
        "applies: a run can lower it here, never raise or remove it (0: the team's alone)",
    ),
    approval_timeout_seconds: ApprovalSeconds = Field(
        3600, description="Without an answer by then, nothing is done"
    ),
    account_identifier: str = Field(
        "", description="Tango account of the lines (empty: TANGO_ACCOUNT_IDENTIFIER)"
    ),
    customer_identifier: str = Field(
        "", description="Tango customer (empty: TANGO_CUSTOMER_IDENTIFIER)"
    ),
    sheet_name: str = Field(
        "", description="XLSX sheet to read (empty: the one visible sheet with actions)"
    ),
    default_phone_country: str = Field(
        "US", description="Country for new mobile numbers written without +country code"
    ),
    timeout_seconds: Seconds = Field(
        120, description="How long to wait for resent and reissued lines to be delivered"
    ),
    poll_interval_seconds: Seconds = Field(
        1.0, description="Pause between looks at lines still being delivered"
    ),
) -> State[RunSummary]:
    """Do the actions listed in one spreadsheet to rewards already sent."""
    settings = RewardsSettings()
    approval = Approval(
        threshold=approval_threshold or None,
        floor=settings.approval_threshold,
        timeout_seconds=approval_timeout_seconds,
    )
    if overruled := approval.overruled():
        get_run_logger().warning("%s", overruled)
    try:
        if not source_path.strip():
            raise RewardsError("source_path is empty: give the path of the actions spreadsheet")
        if other := taken_by_another_run(source_path):
            return Cancelled(message=other)
        customer, account_id = identifiers(customer_identifier, account_identifier)
        tag_run(account_id, dry_run=dry_run)
        sheet = load_actions(source_path, sheet_name or None)
        account = fetch_account(customer, account_id)
        country = phone_region(default_phone_country) if default_phone_country else None
        checked, cost = check_actions(quote(sheet), customer, account, country)
        run = _Run(sheet, checked, cost, account, customer, settings)
        if dry_run:
            ahead = approval.ahead(cost, doing="doing them")
            return _end(run, preview_actions(quote(checked)), ahead, dry=True)
        if cost.shortfall:
            return _stop(run, _short(cost))
        approver, said = None, None
        if cost.cost and approval.needed(cost.cost):
            verdict = ask_about(
                checked.batch,
                _question(checked, cost, approval.limit),
                cost,
                checked.problems,
                approval.timeout_seconds,
            )
            if not verdict.approved:
                return _stop(run, verdict.text(), cancelled=True)
            approver, said = verdict.approver, verdict.text()
        recorded = record_actions(quote(checked), account_id, sheet.source)
        acted = do_actions(quote(checked), recorded, customer, account_id, approver)
        lines = settle_lines(acted, customer, account_id, timeout_seconds, poll_interval_seconds)
        frame = report(sheet, checked, acted, lines)
        return _end(run, acted, said, frame=frame)

    except (RewardsError, RaasError) as exc:  # an expected stop: a clear message, no traceback
        return expected_ending(exc)


@dataclass(frozen=True)
class _Run:
    sheet: Sheet
    checked: Checked
    cost: CostPreview
    account: Account
    customer: str
    settings: RewardsSettings


def _end(
    run: _Run,
    acted: Acted,
    note: str | None,
    *,
    dry: bool = False,
    frame: pd.DataFrame | None = None,
) -> State[RunSummary]:
    """Publish the report; Completed when every valid row was done (or done before): invalid
    rows are listed to fix, as a sending run's rejected rows are; Failed with the summary when
    Tango refused some, did not answer, a resend failed again, or no row was valid (exit 1 on
    the command line)."""
    table = report(run.sheet, run.checked, acted, {}) if frame is None else frame
    title = "Dry run: nothing done" if dry else "Actions"
    summary = _publish(run, table, title, note, dry, _charged(run.cost, table))
    c = summary.counts
    trouble = sum(c.get(k, 0) for k in ("refused", "not_done", "failed_again"))
    if c.get("invalid", 0) and c.get("invalid", 0) == len(table):
        trouble += c["invalid"]  # nothing to do at all
    line = _line(c)
    logger = get_run_logger()
    if dry:
        message = f"dry run: {line}; {run.cost.text()}" + (f"; {note}" if note else "")
        if run.cost.shortfall:  # the real run would stop there: said, and ended as it would
            message += f"; the real run would stop: {_short(run.cost)}"
        logger.info("%s", message)
        if c.get("invalid", 0) == len(table) or run.cost.shortfall:  # as the real run would
            return Failed(message=message, data=RunStoppedError(message, summary))
        return Completed(message=message, data=summary)

    if trouble:
        name = Path(run.sheet.source).name
        said = f"{name}: {line}; see {summary.report_dir}/actions_report.csv"
        if c.get("not_done", 0):
            said += "; run the same file again for the actions Tango did not answer"
        if c.get("invalid", 0):
            said += f"; fix the invalid rows in {summary.report_dir}/rejected_actions.csv"

        logger.warning("%s", said)
        return Failed(message=said, data=RunStoppedError(said, summary))
    message = f"{line}; {note}" if note else line  # who approved, when, for how much
    if c.get("invalid", 0):
        message += (
            f"; fix the invalid rows in {summary.report_dir}/rejected_actions.csv and upload it"
        )
    logger.info("Done: %s", message)
    return Completed(message=message, data=summary)


def _stop(run: _Run, reason: str, cancelled: bool = False) -> State[RunSummary]:
    """Nothing done (the balance, an approval refused): the report says what was asked."""
    acted = Acted()
    for a in run.checked.actions:
        acted.done.append(_not_done(a, reason))
    summary = _publish(run, report(run.sheet, run.checked, acted, {}), "Stopped", reason, False)
    get_run_logger().warning("%s", reason)
    stopped = RunStoppedError(reason, summary)
    if cancelled:
        return Cancelled(message=reason, data=stopped)
    return Failed(message=reason, data=stopped)


def _not_done(action: Planned, reason: str) -> Done:
    return Done(action, Outcome.UNKNOWN, "not done: " + reason)


def _charged(preview: CostPreview, table: pd.DataFrame) -> CostPreview:
    """What the report's rows took from the balance (a dry run: would take), net of what was
    refunded: not the price asked before acting, which counted actions Tango then
    refused or whose delivery failed again."""
    costs = [Decimal(c) for c in table["cost"] if c]
    refunds = [Decimal(r) for r in table["refunded"] if r]
    net = sum(costs, Decimal(0)) - sum(refunds, Decimal(0))
    return replace(preview, cost=max(net, Decimal(0)), rows=len(costs))


def _publish(
    run: _Run,
    table: pd.DataFrame,
    title: str,
    note: str | None,
    dry: bool,
    cost: CostPreview | None = None,
) -> RunSummary:
    batch = run.checked.batch
    folder = export.report_folder(run.settings.reports_dir, batch, dry_run=dry)
    view = write_actions_report(
        quote(table),
        quote(run.checked.rejected),
        quote(run.checked.problems),
        run.sheet.source,
        folder,
        f"{'dry-run' if dry else 'manage'}-{batch.lower()}",
        title=title,
        cost=cost or run.cost,
        note=note,
    )
    show_report(view)
    counts = {"rows_in": len(table), **table["outcome"].value_counts().astype(int).to_dict()}
    return RunSummary(
        batch=batch,
        report_dir=str(folder),
        counts=counts,
        files=view.written,
        cost=cost or run.cost,
        dry_run=dry,
        note=note,
    )


def _line(c: dict[str, int]) -> str:
    parts = [
        ("would be done", c.get("would_do", 0)),
        ("done", c.get("done", 0)),
        ("done before", c.get("done_before", 0)),
        ("refused by Tango", c.get("refused", 0)),
        ("not done", c.get("not_done", 0)),
        ("failed again", c.get("failed_again", 0)),
        ("invalid", c.get("invalid", 0)),
    ]
    return ", ".join(f"{n} {what}" for what, n in parts if n) or "no actions"


def _question(checked: Checked, cost: CostPreview, limit: Decimal | None, shown: int = 20) -> str:
    """The question, with the actions that cost money (what the approver pays for)."""
    charged = [a for a in checked.actions if a.cost]
    rows = [
        f"| {a.row_number} | {a.action} | {a.line_id} | "
        f"{'' if a.amount is None else f'{a.amount:,.2f}'} | {a.cost:,.2f} {a.currency} |"
        for a in charged[:shown]
    ]
    more = (
        f"\n\n...and {len(charged) - shown} more (the dry run's report lists all)"
        if len(charged) > shown
        else ""
    )
    return (
        f"**Approve {len(checked.actions)} action(s) on rewards already sent, "
        f"{len(charged)} of them costing {cost.cost:,.2f} {cost.currency}?**\n\n"
        f"Balance {cost.balance:,.2f} {cost.currency}; {len(checked.rejected)} row(s) invalid "
        f"(not done). Actions `{checked.batch}`; approval needed above {limit or 0:,.2f} "
        f"{cost.currency}.\n\n"
        "| row | action | line | new amount | cost |\n|---:|---|---|---:|---:|\n"
        + "\n".join(rows)
        + more
    )


def _short(cost: CostPreview) -> str:
    return (
        f"account {cost.account} cannot pay for these actions: they cost {cost.cost:.2f} "
        f"{cost.currency}, the balance is {cost.balance:.2f}, short by {cost.shortfall:.2f}. "
        "Nothing was done; fund the account and run again"
    )
