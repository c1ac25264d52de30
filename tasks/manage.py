"""The manage-rewards steps as Prefect tasks: each calls one function of ``rewards.managing``.

As for sending (``tasks/fulfil.py``): no Prefect retries (the client retries what is safe to
retry), no caching (the ledger decides what was done), and an expected stop ends its task
Failed with one line (:func:`tasks.fulfil.step`).
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import get_run_logger, runtime

from raas import Account, LineItemDetail
from rewards import managing
from rewards.actions import Checked
from rewards.ledger import ActionRow
from rewards.reading import Sheet
from rewards.summary import CostPreview

from .fulfil import step
from .tango import ledger, tango_client


@step("load-actions")
def load_actions(path: str, sheet_name: str | None) -> Sheet:
    sheet = managing.load(path, sheet_name)
    get_run_logger().info(
        "Read %d actions from %s; %s", len(sheet.frame), Path(sheet.source).name, sheet.read_as()
    )
    return sheet


@step("fetch-account")
def fetch_account(customer: str, account: str) -> Account:
    return tango_client(customer, account).get_account()


@step("check-actions")
def check_actions(
    sheet: Sheet, customer: str, account: Account, phone_country: str | None
) -> tuple[Checked, CostPreview]:
    """Look the lines up at Tango, check every row, and price what would cost money."""
    client = tango_client(customer, account.accountIdentifier)
    lines = managing.look_up(client, ledger(), account.accountIdentifier, sheet.frame)
    checked = managing.check_sheet(client, ledger(), sheet, lines, account, phone_country)
    preview = managing.cost(checked, account)
    get_run_logger().info(
        "%d action(s) valid, %d row(s) rejected; cost %s",
        len(checked.actions),
        len(checked.rejected),
        preview.text(),
    )
    return checked, preview


@step("record-actions")
def record_actions(checked: Checked, account: str, source: str) -> dict[str, ActionRow]:
    return managing.record(ledger(), checked, account, source)


@step("do-actions")
def do_actions(
    checked: Checked,
    recorded: dict[str, ActionRow],
    customer: str,
    account: str,
    approver: str | None,
) -> managing.Acted:
    return managing.act(
        tango_client(customer, account),
        ledger(),
        checked,
        recorded,
        run_id=str(runtime.flow_run.id),
        approver=approver,
        say=get_run_logger().info,
    )


@step("preview-actions")
def preview_actions(checked: Checked) -> managing.Acted:
    return managing.preview(ledger(), checked)


@step("settle-lines")
def settle_lines(
    acted: managing.Acted, customer: str, account: str, timeout_seconds: float, pause: float
) -> dict[str, LineItemDetail | None]:
    """Where each line ended, waiting for resent and reissued lines to be delivered."""
    return managing.settle(
        tango_client(customer, account),
        ledger(),
        acted,
        deadline=time.monotonic() + timeout_seconds,
        pause=pause,
    )
