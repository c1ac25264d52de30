"""fulfil-rewards: a recipient spreadsheet in, every reward sent exactly once, a report out."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger
from prefect.states import Cancelled, State
from prefect.utilities.annotations import quote
from pydantic import Field

from flows.approval import ask, cancelled_while_waiting, earlier_approval
from flows.fulfil_steps import Run, finish, gate, lease_margin, resolve_mode, send, stop
from flows.naming import run_name, tag_run
from flows.scan_inbox import taken_by_another_run
from raas import RaasError
from rewards.errors import RewardsError
from rewards.params import (
    DEFAULT_CHUNK,
    Approval,
    ApprovalSeconds,
    CompletionMode,
    Concurrency,
    LinesPerOrder,
    Money,
    RewardsSettings,
    Seconds,
    SendOptions,
    Shares,
    phone_region,
)
from rewards.reconcile import Mode
from rewards.summary import RunSummary
from rewards.validation import ValidationOptions
from tasks.fulfil import (
    check_balance,
    expected_ending,
    fetch_account_and_catalog,
    load_spreadsheet,
    plan_orders,
    validate_rows,
)
from tasks.tango import identifiers


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
        "this deployment, relative to the folder `rewards serve` started in, inside the "
        "folders files are read from (REWARDS_SOURCE_ROOTS: by default the inbox and data/). "
        "Uploads land in the inbox (REWARDS_INBOX_DIR, default data/inbox). Required.",
    ),
    dry_run: bool = Field(False, description="Check the file and show the cost; send nothing"),
    approval_threshold: Money = Field(
        0,
        description="Pause for approval when the cost is above this amount. The team's "
        "threshold (`rewards serve --approval-threshold`) always applies: a run can lower it "
        "here, never raise or remove it (0: the team's alone)",
    ),
    approval_timeout_seconds: ApprovalSeconds = Field(
        3600, description="Without an answer by then, nothing is sent"
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
    max_line_items_per_order: LinesPerOrder = Field(
        DEFAULT_CHUNK, description="Line items per async order"
    ),
    submit_concurrency: Concurrency = Field(4, description="Orders submitted at once"),
    fan_out: Shares = Field(
        0,
        description="Spread the orders over this many send-orders runs on the work pool "
        "(set it to the number of workers); 0 sends them from this run",
    ),
    completion_mode: CompletionMode = Field(
        CompletionMode.AUTO,
        description="How to learn that orders finished: webhook (the receiver's events, "
        "with a fallback poll), poll, or auto (webhooks when REWARDS_WEBHOOK_RECEIVER is set)",
    ),
    timeout_seconds: Seconds = Field(3600, description="Give up waiting for Tango after this long"),
    poll_interval_seconds: Seconds = Field(
        2.0, description="First pause between polls (grows to 30 s)"
    ),
) -> State[RunSummary]:
    """Send the rewards listed in one spreadsheet."""
    settings = RewardsSettings()
    options = SendOptions(
        submit_concurrency=submit_concurrency,
        fan_out=fan_out,
        completion_mode=resolve_mode(completion_mode, settings),
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
        margin = lease_margin(settings)
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
        sheet = sheet.for_report()

        plan = plan_orders(
            quote(validated),
            account=account_id,
            customer=customer,
            chunk_size=max_line_items_per_order,
            wait_until=None if dry_run else deadline,
        )
        cost = check_balance(quote(plan), account)
        run = Run(sheet, validated, plan, cost, settings)
        why = gate(validated, cost, all_or_nothing)
        if dry_run:  # a dry run says where the real run would stop, and ends as it would
            return stop(run, Mode.DRY_RUN, approval.ahead(cost), would_stop=why)
        if why:
            return stop(run, Mode.STOPPED, why)
        verdict = None
        if cost.rows and approval.needed(cost.cost):
            limit = approval.limit
            assert limit is not None  # needed() says there is one
            verdict = ask(plan, cost, validated, limit, approval.timeout_seconds, sheet.source)

            if not verdict.approved:
                return stop(run, Mode.STOPPED, verdict.text(), cancelled=True)
        trouble = send(run, options, deadline, margin)
        said = verdict.text() if verdict else earlier_approval(plan.batch)
        return finish(run, [said] if said else [], trouble)

    except (RewardsError, RaasError) as exc:  # an expected stop: a clear message, no traceback
        return expected_ending(exc)
