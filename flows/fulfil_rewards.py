"""fulfil-rewards: a recipient spreadsheet in, every reward sent exactly once, a report out."""

from __future__ import annotations

import contextlib
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.states import Cancelled, Completed, Failed, State
from prefect.utilities.annotations import quote
from pydantic import Field

from flows.send_orders import fan_out, send_and_await
from raas import RaasError
from rewards.errors import RewardsError
from rewards.params import FulfilParams, RewardsSettings
from rewards.validation import ValidationOptions
from tasks.fulfil import (
    check_balance,
    fetch_account_and_catalog,
    load_spreadsheet,
    plan_orders,
    publish_report,
    reconcile_batch,
    record_orders,
    validate_rows,
)


@flow(name="fulfil-rewards", log_prints=True)
def fulfil_rewards(params: FulfilParams) -> State[dict[str, Any]] | dict[str, Any]:
    try:
        return _run(params)
    except RewardsError as exc:  # an expected stop: a clear message, no traceback
        get_run_logger().error("%s", exc)
        return Failed(message=str(exc))
    except RaasError as exc:  # Tango failed after the client's retries; a rerun resumes
        message = f"Tango failed: {exc}. Run the same file again to resume; nothing is sent twice"
        get_run_logger().error("%s", message)
        return Failed(message=message)


def _run(params: FulfilParams) -> dict[str, Any] | State[dict[str, Any]]:
    settings = RewardsSettings()
    sheet = load_spreadsheet(params.source_path, params.sheet_name)
    if isinstance(sheet, RewardsError):
        raise sheet
    account, catalog = fetch_account_and_catalog(
        params.customer_identifier, params.account_identifier
    )
    options = ValidationOptions(
        default_phone_country=params.default_phone_country, default_campaign=params.campaign
    )
    # quote(): big inputs pass by reference; Prefect would otherwise walk every cell of them
    validated = validate_rows(quote(sheet), catalog, account.currencyCode, options)

    customer, account_id = _identifiers(params)
    plan = plan_orders(
        quote(validated),
        account=account_id,
        customer=customer,
        chunk_size=params.max_line_items_per_order,
        ledger_url=settings.ledger_url,
    )
    folder = Path(params.output_dir) if params.output_dir else settings.reports_dir / plan.batch

    stop: str | None = None
    if params.all_or_nothing and len(validated.rejected):
        stop = (
            f"all_or_nothing: {len(validated.rejected)} row(s) were rejected, so nothing "
            f"was sent; fix them (see rejected_rows.csv in {folder}) and run again"
        )
    preview: dict[str, Any] | None = None
    if stop is None:
        preview = check_balance(quote(plan), account)
        stop = preview.pop("stop")
    approval = None
    if stop is None and not params.dry_run and preview and _needs_approval(params, preview):
        approval = _ask_approval(params, plan, preview, len(validated.rejected))
        if not approval.approve:
            return _stopped(
                sheet,
                validated,
                plan,
                folder,
                settings,
                preview,
                approval.summary(),
                cancelled=True,
            )
    if stop or params.dry_run:
        return _stopped(sheet, validated, plan, folder, settings, preview, stop)

    refs = record_orders(quote(plan), quote(sheet), settings.ledger_url)
    sending = {
        "submit_concurrency": params.submit_concurrency,
        "timeout_seconds": params.timeout_seconds,
        "poll_interval_seconds": params.poll_interval_seconds,
        "mode": _completion_mode(params, settings),
    }
    if params.fan_out and refs:  # workers share the orders; this run finishes
        fan_out(plan.batch, min(params.fan_out, len(refs)), **sending)
    waited = send_and_await(refs, batch=plan.batch, ledger_url=settings.ledger_url, **sending)

    result = reconcile_batch(quote(sheet), quote(validated), quote(plan), settings.ledger_url)
    notes = [approval.summary()] if approval else []
    if waited["pending"]:
        notes.append(f"{waited['pending']} order(s) still pending at the timeout")
    note = "; ".join(notes) or None
    files = publish_report(
        quote(result),
        quote(validated),
        sheet.source,
        folder,
        plan.batch,
        title="Rewards sent",
        preview=preview,
        note=note,
    )
    summary = {
        "batch": plan.batch,
        "report_dir": str(folder),
        "files": files,
        "balanced": result.balanced,
        **result.counts,
    }
    if not result.balanced:
        return Failed(
            message="the books do not balance: " + "; ".join(result.discrepancies), data=summary
        )
    return summary


class Approval(RunInput):
    """The form shown in the Prefect UI when a batch needs approval."""

    approve: bool = Field(False, description="Send these rewards?")
    approver: str = Field("", description="Your name, recorded in the report")
    note: str = Field("", description="Why (recorded in the report)")
    timed_out: bool = Field(False, description="Set by the flow when nobody answered in time")

    def summary(self) -> str:
        if self.timed_out:
            return "approval timed out: nothing was sent"
        verdict = "approved" if self.approve else "rejected"
        who = f" by {self.approver}" if self.approver else ""
        return f"{verdict}{who}" + (f": {self.note}" if self.note else "")


def _needs_approval(params: FulfilParams, preview: dict[str, Any]) -> bool:
    threshold = params.approval_threshold
    return threshold is not None and Decimal(preview["cost"]) > threshold


def _ask_approval(
    params: FulfilParams, plan: Any, preview: dict[str, Any], rejected: int
) -> Approval:
    """Pause until someone approves or rejects in the UI (or the timeout passes)."""
    description = (
        f"**Approve sending {len(plan.to_send)} rewards for {preview['cost']} "
        f"{preview['currency']}?** (balance {preview['balance']}; {rejected} rows rejected, "
        f"{len(plan.already_sent)} already sent; batch `{plan.batch}`; approval threshold "
        f"{params.approval_threshold})"
    )
    get_run_logger().info("Waiting for approval: %s", description)
    # Our own deadline answers "no" through the same form, so the run ends cleanly with a
    # report; Prefect's pause deadline (a minute later) only matters if this process dies.
    run_id = FlowRunContext.get().flow_run.id  # type: ignore[union-attr]
    timer = threading.Timer(params.approval_timeout_seconds, _answer_timeout, args=(run_id,))
    timer.start()
    try:
        return pause_flow_run(
            wait_for_input=Approval.with_initial_data(description=description),
            timeout=params.approval_timeout_seconds + 60,
            poll_interval=1,
        )
    except FlowPauseTimeout:
        return Approval(approve=False, timed_out=True)
    finally:
        timer.cancel()


def _answer_timeout(run_id: Any) -> None:
    with contextlib.suppress(Exception):  # already answered: nothing to do
        resume_flow_run(run_id, run_input={"approve": False, "timed_out": True})


def _completion_mode(params: FulfilParams, settings: RewardsSettings) -> str:
    if params.completion_mode == "auto":
        return "webhook" if settings.webhook_receiver else "poll"
    return params.completion_mode


def _identifiers(params: FulfilParams) -> tuple[str, str]:
    from tasks.tango import tango_client

    settings = tango_client(params.customer_identifier, params.account_identifier).settings
    if not settings.customer_identifier or not settings.account_identifier:
        raise RewardsError(
            "no Tango customer/account: pass customer_identifier and "
            "account_identifier or set TANGO_CUSTOMER_IDENTIFIER and "
            "TANGO_ACCOUNT_IDENTIFIER"
        )
    return settings.customer_identifier, settings.account_identifier


def _stopped(sheet, validated, plan, folder, settings, preview, stop, cancelled=False) -> Any:
    """Dry run or a gate: publish what would happen (nothing sent) and stop."""
    result = reconcile_batch(
        quote(sheet),
        quote(validated),
        quote(plan),
        settings.ledger_url,
        unsent_reason="dry run: would be sent" if stop is None else "not sent: " + stop,
    )
    title = "Dry run: nothing sent" if stop is None else "Stopped before sending"
    files = publish_report(
        quote(result),
        quote(validated),
        sheet.source,
        folder,
        plan.batch,
        title=title,
        preview=preview,
        note=stop,
    )
    summary = {
        "batch": plan.batch,
        "report_dir": str(folder),
        "files": files,
        "dry_run": stop is None,
        "would_send": len(plan.to_send),
        "already_sent": len(plan.already_sent),
        "rejected": len(validated.rejected),
        "cost": preview,
    }
    if cancelled:
        return Cancelled(message=stop, data=summary)
    if stop:
        return Failed(message=stop, data=summary)
    return Completed(message=f"dry run: {len(plan.to_send)} rows would be sent", data=summary)
