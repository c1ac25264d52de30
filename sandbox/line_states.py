"""A line item's state and what it allows: the one place that says which line may be
cancelled, frozen, unfrozen, resent, reissued or rescheduled (docs/tango/DECISIONS.md).

Lines are read with :data:`LINE_SELECT`, which joins their order and account and derives the
states Tango shows but the store does not keep (``reward_state``, ``email_status``,
``remaining``), so every view, filter and rule reads them the same way.
"""

from __future__ import annotations

from sqlite3 import Connection, Row

from raas import LineItemStatus, rules
from raas._line_items import RewardStatus

from .errors import ApiError

# The reward of a line issued before reward_status was stored is ACTIVE.
REWARD_STATE = "COALESCE(l.reward_status, CASE WHEN l.status = 'COMPLETE' THEN 'ACTIVE' END)"
DELIVERY_FAILED = "(l.errors_json LIKE '%DELIVERY_FAILED%')"
# What became of the email (NOT_DELIVERED when the line is not delivered by email).
EMAIL_STATUS = (
    "CASE WHEN l.delivery_method != 'EMAIL' THEN 'NOT_DELIVERED' "
    "WHEN l.delivery_status = 'DELIVERED' THEN 'DELIVERED' "
    "WHEN l.delivery_status = 'FAILED' AND (l.status = 'COMPLETE' OR "
    f"{DELIVERY_FAILED}) THEN 'BOUNCE' "
    "WHEN l.status IN ('FAILED', 'CANCELLED') THEN 'NOT_DELIVERED' ELSE 'PENDING' END"
)
# Sandbox rewards are redeemed whole or not at all.
REMAINING = (
    f"CASE WHEN {REWARD_STATE} IN ('ACTIVE', 'FROZEN') "
    "THEN CAST(l.amount AS REAL) * l.quantity ELSE 0 END"
)
LINE_SELECT = (
    "SELECT l.*, l.rowid AS line_key, "
    f"{REWARD_STATE} AS reward_state, {EMAIL_STATUS} AS email_status, "
    f"{REMAINING} AS remaining, "
    "o.external_ref_id, o.status AS order_status, o.customer_identifier, "
    "o.account_identifier, o.campaign AS order_campaign, "
    "o.purchase_order_number AS order_po, o.notes AS order_notes_text, "
    "o.sender_json AS order_sender_json, o.created_at AS order_created_at, "
    "a.account_number, a.currency_code AS account_currency "
    "FROM line_items l JOIN orders o ON o.reference_order_id = l.reference_order_id "
    "JOIN accounts a ON a.account_identifier = o.account_identifier"
)


def find(c: Connection, ref_li: str) -> Row | None:
    return c.execute(LINE_SELECT + " WHERE l.reference_line_item_id = ?", (ref_li,)).fetchone()


def get(c: Connection, ref_li: str, status_if_unknown: int) -> Row:
    """The line, or ``status_if_unknown`` (404 where the operation's document lists 404, else
    400) naming it."""
    line = find(c, ref_li)
    if line is None:
        raise ApiError(
            status_if_unknown,
            f"Line item {ref_li} not found",
            [
                {
                    "path": "referenceLineItemID",
                    "code": "NotFound",
                    "message": f"no line item {ref_li}",
                }
            ],
        )
    return line


def delivery_failed(li: Row) -> bool:
    """Failed in delivery (refunded, may be resent or reissued), not refused when placed."""
    errors = li["errors_json"] or ""
    return li["status"] == LineItemStatus.FAILED and "DELIVERY_FAILED" in errors


def facts(li: Row) -> rules.LineFacts:
    """The line as :func:`raas.rules.action_refusal` judges it."""
    return rules.LineFacts(
        status=li["status"],
        reward=li["reward_state"],
        delivery_failed=delivery_failed(li),
        scheduled=bool(li["scheduled_delivery_date"]),
        replaced_by=li["reissued_to"],
    )


def issued(li: Row) -> bool:
    """Its reward exists and was not redeemed or cancelled."""
    return facts(li).issued


def shows_credentials(li: Row) -> bool:
    """A frozen or cancelled reward's codes are not shown."""
    return li["reward_state"] in (RewardStatus.ACTIVE, RewardStatus.REDEEMED)


def state(li: Row) -> str:
    """How a refusal names the line's state: ``COMPLETE (reward FROZEN)``."""
    return facts(li).shown


Refusal = rules.Refusal


def refusal(action: str, li: Row) -> Refusal:
    """Whether the line allows ``action`` (the rules are Tango's, in :mod:`raas.rules`)."""
    return rules.action_refusal(action, facts(li))


def refuse(li: Row, refusal: Refusal, status: int) -> None:
    """Raise the refusal, if any, as ``status`` naming the line's state."""
    if refusal is None:
        return
    code, reason = refusal
    ref, shown = li["reference_line_item_id"], state(li)

    raise ApiError(
        status,
        f"Line item {ref} is {shown} and {reason}",
        [{"path": "referenceLineItemID", "code": code, "message": f"{shown}: {reason}"}],
    )
