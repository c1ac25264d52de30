"""Actions that deliver a reward again: a resend (the same reward, maybe to a new contact) and
a reissue (a new reward replacing the line's, charged; the old one cancelled and refunded)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from sqlite3 import Connection, Row
from typing import Any

from pydantic import ValidationError

from raas import rules
from raas._line_items import (
    ReissueLineItemCriteria,
    ResendLineItemCriteria,
    RewardStatus,
)
from raas._models import Catalog, LineItem

from . import line_states
from .config import SandboxConfig
from .errors import ApiError
from .events import Events
from .fulfilment import Fulfilment
from .line_checks import as_field_errors, line_cost, line_problems, resend_problems
from .line_views import reissued_view
from .lines import Lines, record, refund
from .money import Money
from .orders import Plan, insert_line
from .store import Store, insert
from .wire import clean, field_error, now_iso, parse, pydantic_errors


class Redelivery:
    def __init__(
        self,
        config: SandboxConfig,
        store: Store,
        catalog: Catalog,
        events: Events,
        fulfilment: Fulfilment,
        lines: Lines,
        money: Money,
    ) -> None:
        self.config = config
        self.store = store
        self.catalog = catalog
        self.events = events
        self.fulfilment = fulfilment
        self.lines = lines
        self.money = money

    # --- resend --------------------------------------------------------------------------------

    def resend(self, ref_li: str, body: Any) -> dict[str, Any]:
        """Deliver the line's reward again. An issued reward goes at once, free; a line whose
        delivery failed (and was refunded) is charged again and delivered by the worker."""
        why = parse(ResendLineItemCriteria, body)
        with self.store.tx() as c:
            li = line_states.get(c, ref_li, 404)
            line_states.refuse(li, line_states.refusal("resend", li), 400)
            method, recipient = self._resend_target(li, why)
            if line_states.delivery_failed(li):
                delivery = self._redeliver_failed(c, li, method, recipient)
            else:
                delivery = self._redeliver_issued(c, li, method, recipient)
            created = now_iso()
            resend_id = insert(
                c,
                "resends",
                {
                    "reference_line_item_id": ref_li,
                    "created_at": created,
                    "delivery_method": method,
                    "email": recipient.get("email"),
                    "mobile_number": recipient.get("mobileNumber"),
                    "delivery_status": delivery,
                    "reason_code": why.reasonCode.value,
                    "other_reason": why.otherReason,
                },
            )
            record(c, li, "RESEND", why)
        return clean(
            {
                "id": resend_id,
                "createdAt": created,
                "deliveryMethod": method,
                "email": recipient.get("email"),
                "mobileNumber": recipient.get("mobileNumber"),
                "reasonCode": why.reasonCode.value,
                "otherReason": why.otherReason,
            }
        )

    def _resend_target(self, li: Row, why: ResendLineItemCriteria) -> tuple[str, dict[str, Any]]:
        """The method and recipient the reward goes to now (400 when they cannot take it)."""
        method = why.newDeliveryMethod.value if why.newDeliveryMethod else li["delivery_method"]
        if method not in rules.RESEND_METHODS:
            raise ApiError(
                400,
                f"A resend goes by {', '.join(rules.RESEND_METHODS)}, not {method}: reissue the "
                "line instead",
                [field_error("newDeliveryMethod", "DELIVERY_METHOD_NOT_SUPPORTED", method)],
            )
        recipient = json.loads(li["recipient_json"])
        if why.newEmail:
            recipient["email"] = why.newEmail
        if why.newMobileNumber:
            recipient["mobileNumber"] = why.newMobileNumber
        item = self.catalog.item(li["utid"] or "")
        if problems := resend_problems(
            item, method, recipient.get("email"), recipient.get("mobileNumber")
        ):
            raise ApiError(400, "The reward cannot be resent to that contact", problems)
        return method, recipient

    def _redeliver_issued(
        self, c: Connection, li: Row, method: str, recipient: dict[str, Any]
    ) -> str:
        """The reward exists: it is delivered now (or bounces), nothing is charged."""
        probe = {**dict(li), "recipient_json": json.dumps(recipient), "delivery_method": method}
        delivery = "FAILED" if self.fulfilment.fails(probe, first_attempt=False) else "DELIVERED"
        c.execute(
            "UPDATE line_items SET delivery_status=?, delivery_method=?, recipient_json=? "
            "WHERE reference_line_item_id=?",
            (delivery, method, json.dumps(recipient), li["reference_line_item_id"]),
        )
        self.events.delivery_status(c, [(li["reference_line_item_id"], delivery)])
        return delivery

    def _redeliver_failed(
        self, c: Connection, li: Row, method: str, recipient: dict[str, Any]
    ) -> str:
        """The delivery failed and was refunded: charge the line again and queue it."""
        cost = Decimal(li["amount"]) * li["quantity"] + Decimal(li["fee"])
        self.money.charge(c, li["account_identifier"], cost, li["currency_code"], 400)
        c.execute(
            "UPDATE line_items SET status='PENDING', delivery_status='PENDING', charged=?, "
            "errors_json=NULL, ready_at=?, delivery_method=?, recipient_json=? "
            "WHERE reference_line_item_id=?",
            (
                str(cost),
                time.time() + self.config.fulfil_latency_s,
                method,
                json.dumps(recipient),
                li["reference_line_item_id"],
            ),
        )
        return "PENDING"

    # --- reissue -------------------------------------------------------------------------------

    def reissue(self, ref_li: str, body: Any) -> dict[str, Any]:
        """Replace the line's reward with a new one in the same order. A line reissued before
        answers its replacement again (the body is not applied twice)."""
        why = parse(ReissueLineItemCriteria, body)
        with self.store.tx() as c:
            li = line_states.get(c, ref_li, 400)
            if li["reissued_to"]:
                return self._replacement(c, li, why)
            line_states.refuse(li, line_states.refusal("reissue", li), 422)
            new_line = self._new_line(c, li, why)
            if line_states.issued(li):
                refund(c, li)
                c.execute(
                    "UPDATE line_items SET status='CANCELLED', reward_status=? "
                    "WHERE reference_line_item_id=?",
                    (RewardStatus.CANCELLED, ref_li),
                )
            new_ref = self._insert_replacement(c, li, new_line, why)
            at = record(c, li, "REISSUE", why, new_ref)
            status = RewardStatus.CANCELLED if line_states.issued(li) else None
            self.lines.announce(c, li, "REISSUE", why, status, new_ref)
            new = line_states.find(c, new_ref)
            assert new is not None
            return reissued_view(new, self.catalog.item(new["utid"] or ""), at)

    def _new_line(self, c: Connection, li: Row, why: ReissueLineItemCriteria) -> LineItem:
        """The replacement as an order line: the original's, with what the reissue changes;
        checked as a new order's line would be (422 naming each problem)."""
        recipient = json.loads(li["recipient_json"])
        if why.recipient:
            recipient.update(why.recipient.model_dump(exclude_none=True))
        suffix = f"-R{_next_seq(c, li) + 1}"
        try:
            line = LineItem.model_validate(
                {
                    "externalRefLineItemID": li["external_ref_line_item_id"][: 100 - len(suffix)]
                    + suffix,
                    "quantity": li["quantity"],
                    "recipient": recipient,
                    "utid": li["utid"],
                    "amount": why.amount if why.amount is not None else Decimal(li["amount"]),
                    "deliveryMethod": why.deliveryMethod or li["delivery_method"],
                    "emailSubject": li["email_subject"],
                    "message": li["message"],
                    "lineItemNote": li["line_item_note"],
                    "shippingMethod": li["shipping_method"],
                }
            )
        except ValidationError as exc:
            raise ApiError(
                422, "The replacement is not a valid line", pydantic_errors(exc)
            ) from exc
        item = self.catalog.item(line.utid)
        if problems := line_problems(line, item, li["account_currency"]):
            raise ApiError(422, "The replacement is not a valid line", as_field_errors(problems))
        return line

    def _insert_replacement(
        self, c: Connection, li: Row, line: LineItem, why: ReissueLineItemCriteria
    ) -> str:
        """Store the new line in the old one's order, charged; link the two."""
        item = self.catalog.item(line.utid)
        assert item is not None  # line_problems refused an unknown utid
        value, fee = line_cost(item, line)
        self.money.charge(c, li["account_identifier"], value + fee, li["account_currency"], 422)
        seq = _next_seq(c, li)
        new_ref = f"{li['reference_order_id']}-{seq + 1:04d}"
        plan = Plan(line, item, [], value, fee)
        ready_at = time.time() + self.config.fulfil_latency_s
        insert_line(c, li["reference_order_id"], new_ref, seq, plan, li["currency_code"], ready_at)
        c.execute(
            "UPDATE line_items SET reissued_from=?, sender_json=?, campaign=?, "
            "purchase_order_number=?, order_notes=? WHERE reference_line_item_id=?",
            (
                li["reference_line_item_id"],
                li["sender_json"],
                li["campaign"],
                li["purchase_order_number"],
                why.notes or li["order_notes"],
                new_ref,
            ),
        )
        c.execute(
            "UPDATE line_items SET reissued_to=? WHERE reference_line_item_id=?",
            (new_ref, li["reference_line_item_id"]),
        )
        return new_ref

    def _replacement(self, c: Connection, li: Row, why: ReissueLineItemCriteria) -> dict[str, Any]:
        """A repeat of the reissue answers its replacement; a reissue asking for something
        else (another amount, method or contact) is refused: the line is replaced already."""
        new = line_states.find(c, li["reissued_to"])
        assert new is not None
        given = why.recipient.model_dump(exclude_none=True) if why.recipient else {}
        held = json.loads(new["recipient_json"])
        differs = (
            (why.amount is not None and Decimal(new["amount"]) != why.amount)
            or (why.deliveryMethod is not None and new["delivery_method"] != why.deliveryMethod)
            or any(held.get(k) != v for k, v in given.items())
        )
        if differs:
            ref = li["reference_line_item_id"]
            raise ApiError(
                422,
                f"Line item {ref} was reissued already as {new['reference_line_item_id']}",
                [
                    {
                        "path": "referenceLineItemID",
                        "code": "ALREADY_REISSUED",
                        "message": f"replaced by {new['reference_line_item_id']}: act on that "
                        "line instead",
                    }
                ],
            )

        at = c.execute(
            "SELECT at FROM line_actions WHERE reference_line_item_id=? AND action='REISSUE'",
            (li["reference_line_item_id"],),
        ).fetchone()["at"]
        return reissued_view(new, self.catalog.item(new["utid"] or ""), at)


def _next_seq(c: Connection, li: Row) -> int:
    """The next line number of the line's order (lines are numbered from 0 in the store)."""
    return int(
        c.execute(
            "SELECT MAX(seq) + 1 FROM line_items WHERE reference_order_id=?",
            (li["reference_order_id"],),
        ).fetchone()[0]
    )
