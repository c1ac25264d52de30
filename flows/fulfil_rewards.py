"""fulfil-rewards: a recipient spreadsheet in, every reward sent exactly once, a report out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State

from raas import RaasError
from rewards.errors import RewardsError
from rewards.params import FulfilParams, RewardsSettings
from rewards.validation import ValidationOptions
from tasks.fulfil import (
    await_completion,
    check_balance,
    fetch_account_and_catalog,
    load_spreadsheet,
    plan_orders,
    publish_report,
    reconcile_batch,
    record_orders,
    submit_order,
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
    account, catalog = fetch_account_and_catalog(
        params.customer_identifier, params.account_identifier
    )
    options = ValidationOptions(
        default_phone_country=params.default_phone_country, default_campaign=params.campaign
    )
    validated = validate_rows(sheet, catalog, account.currencyCode, options)

    customer, account_id = _identifiers(params)
    plan = plan_orders(
        validated,
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
        try:
            preview = check_balance(plan, account)
        except RewardsError as exc:
            stop = str(exc)
    if stop or params.dry_run:
        return _stopped(sheet, validated, plan, folder, settings, preview, stop)

    refs = record_orders(plan, sheet, settings.ledger_url)
    for start in range(0, len(refs), params.submit_concurrency):
        wave = refs[start : start + params.submit_concurrency]
        submit_order.map(wave, ledger_url=settings.ledger_url).result()
    waited = await_completion(
        refs,
        ledger_url=settings.ledger_url,
        timeout_seconds=params.timeout_seconds,
        poll_interval_seconds=params.poll_interval_seconds,
        mode=_completion_mode(params, settings),
        batch=plan.batch,
    )

    result = reconcile_batch(sheet, validated, plan, settings.ledger_url)
    note = (
        f"{waited['pending']} order(s) still pending at the timeout" if waited["pending"] else None
    )
    files = publish_report(
        result,
        validated,
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


def _stopped(sheet, validated, plan, folder, settings, preview, stop) -> Any:
    """Dry run or a gate: publish what would happen (nothing sent) and stop."""
    result = reconcile_batch(
        sheet,
        validated,
        plan,
        settings.ledger_url,
        unsent_reason="dry run: would be sent" if stop is None else "not sent: " + stop,
    )
    title = "Dry run: nothing sent" if stop is None else "Stopped before sending"
    files = publish_report(
        result, validated, sheet.source, folder, plan.batch, title=title, preview=preview, note=stop
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
    if stop:
        return Failed(message=stop, data=summary)
    return Completed(message=f"dry run: {len(plan.to_send)} rows would be sent", data=summary)
