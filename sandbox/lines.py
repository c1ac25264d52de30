"""Actions on a line's reward that move no new reward: cancel (refunded), freeze, unfreeze.
Which line allows which is ``line_states``; each action is recorded in the line's history and
announced (``RewardStatus``); a cancel also settles the order (``AsyncOrderStatus``)."""

from __future__ import annotations

from decimal import Decimal
from sqlite3 import Connection, Row
from typing import Any

from raas._line_items import (
    CancelLineItemCriteria,
    FreezeLineItemCriteria,
    RewardStatus,
    UnfreezeLineItemCriteria,
    _Reasoned,
)

from . import line_states
from .errors import ApiError
from .events import Events
from .fulfilment import Fulfilment
from .money import credit
from .store import Store, insert
from .wire import now_iso, parse

ACCEPTED = "Accepted"


def record(
    c: Connection,
    li: Row,
    action: str,
    why: _Reasoned[Any],
    new_ref: str | None = None,
) -> str:
    """Keep the action in the line's history; returns when it happened."""
    at = now_iso()
    insert(
        c,
        "line_actions",
        {
            "reference_line_item_id": li["reference_line_item_id"],
            "action": action,
            "reason_code": why.reasonCode.value,
            "other_reason": why.otherReason,
            "at": at,
            "new_reference_line_item_id": new_ref,
        },
    )
    c.execute(
        "UPDATE line_items SET action_reason=? WHERE reference_line_item_id=?",
        (why.otherReason or why.reasonCode.value, li["reference_line_item_id"]),
    )
    return at


def refund(c: Connection, li: Row) -> None:
    """Give the line's charge back to its account; the line then costs nothing."""
    credit(c, li["account_identifier"], Decimal(li["charged"]))
    c.execute(
        "UPDATE line_items SET charged='0' WHERE reference_line_item_id=?",
        (li["reference_line_item_id"],),
    )


class Lines:
    def __init__(self, store: Store, fulfilment: Fulfilment, events: Events) -> None:
        self.store = store
        self.fulfilment = fulfilment
        self.events = events

    def announce(
        self,
        c: Connection,
        li: Row,
        action: str,
        why: _Reasoned[Any],
        status: str | None,
        new_ref: str | None = None,
    ) -> None:
        self.events.reward_status(
            c,
            {
                "referenceLineItemId": li["reference_line_item_id"],
                "externalRefID": li["external_ref_id"],
                "action": action,
                "reasonCode": why.reasonCode.value,
                "reason": why.otherReason or why.reasonCode.value,
                "status": status,
                "type": li["delivery_method"],
                "newReferenceLineItemId": new_ref,
            },
        )

    def cancel(self, ref_li: str, body: Any) -> str:
        """Cancel a pending line or an unredeemed reward; its charge is refunded."""
        why = parse(CancelLineItemCriteria, body)
        with self.store.tx() as c:
            li = line_states.get(c, ref_li, 400)
            line_states.refuse(li, line_states.refusal("cancel", li), 422)
            refund(c, li)
            was_issued = li["status"] == "COMPLETE"
            c.execute(
                "UPDATE line_items SET status='CANCELLED', reward_status=?, "
                "delivery_status=CASE WHEN ? THEN delivery_status ELSE 'FAILED' END "
                "WHERE reference_line_item_id=?",
                (RewardStatus.CANCELLED if was_issued else None, was_issued, ref_li),
            )
            record(c, li, "CANCEL", why)
            self.announce(c, li, "CANCEL", why, RewardStatus.CANCELLED)
            self.fulfilment.maybe_finish(c, li["reference_order_id"])
        return ACCEPTED

    def freeze(self, ref_li: str, body: Any) -> str:
        """Hold an issued reward: it cannot be redeemed, resent or shown until unfrozen."""
        why = parse(FreezeLineItemCriteria, body)
        return self._set_reward(ref_li, why, "FREEZE", RewardStatus.FROZEN)

    def unfreeze(self, ref_li: str, body: Any) -> str:
        why = parse(UnfreezeLineItemCriteria, body)
        return self._set_reward(ref_li, why, "UNFREEZE", RewardStatus.ACTIVE)

    def _set_reward(
        self, ref_li: str, why: _Reasoned[Any], action: str, status: RewardStatus
    ) -> str:
        with self.store.tx() as c:
            li = line_states.get(c, ref_li, 400)
            line_states.refuse(li, line_states.refusal(action.lower(), li), 422)

            c.execute(
                "UPDATE line_items SET reward_status=? WHERE reference_line_item_id=?",
                (status, ref_li),
            )
            record(c, li, action, why)
            self.announce(c, li, action, why, status)
        return ACCEPTED

    def redeem(self, ref_li: str) -> dict[str, str]:
        """Admin (not Tango's): the recipient redeemed the reward, so it can no longer be
        cancelled, frozen, resent or reissued."""
        with self.store.tx() as c:
            li = line_states.get(c, ref_li, 404)
            if li["reward_state"] != RewardStatus.ACTIVE:
                raise ApiError(
                    409, f"Line item {ref_li} is {line_states.state(li)}: not redeemable"
                )
            c.execute(
                "UPDATE line_items SET reward_status=? WHERE reference_line_item_id=?",
                (RewardStatus.REDEEMED, ref_li),
            )
        return {"referenceLineItemID": ref_li, "rewardStatus": RewardStatus.REDEEMED.value}
