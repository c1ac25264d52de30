"""Placing an async order: Tango's request checks, the line checks, the balance, idempotency by
``externalRefID``. Reading orders back is ``order_reads.py``."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from sqlite3 import Connection, Row
from typing import Any

from pydantic import ValidationError

from raas._models import Catalog, CatalogItem, CreateAsyncOrderCriteria, LineItem

from .config import SandboxConfig
from .errors import ApiError
from .events import Events
from .fulfilment import finish_if_done
from .line_checks import line_cost, line_error, line_problems, scheduled_date
from .money import Money
from .store import Store, insert
from .wire import (
    clean,
    field_error,
    now_iso,
    pydantic_errors,
)


@dataclass
class Plan:
    """One line of an order being placed: its checks' verdict and what it costs."""

    line: LineItem
    item: CatalogItem | None
    problems: list[dict[str, Any]]
    value: Decimal
    fee: Decimal

    @property
    def cost(self) -> Decimal:
        return self.value + self.fee


class Orders:
    def __init__(
        self, config: SandboxConfig, store: Store, catalog: Catalog, events: Events, money: Money
    ) -> None:
        self.config = config
        self.store = store
        self.catalog = catalog
        self.events = events
        self.money = money

    # --- placing an order ----------------------------------------------------------------------

    def create(self, body: Any) -> tuple[int, dict[str, Any]]:
        """202 with a new order, 200 with the original for a known ``externalRefID``."""
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object")
        with self.store.tx() as c:
            if original := _known(c, body):
                return 200, original
            order = self._parse(body)
            account = _order_account(c, order)
            currency = account["currency_code"]
            plans = self._plan(order, currency)
            cost = sum((p.cost for p in plans if not p.problems), Decimal(0))
            balance = Decimal(account["balance"])
            if cost > balance:
                raise ApiError(
                    402,
                    f"Insufficient funds: the order costs {cost} {currency}, "
                    f"the balance is {balance} {currency}",
                )
            entity = self._insert(c, order, plans, currency)
            self.money.debit(c, order.accountIdentifier, cost)
        return 202, entity

    def _parse(self, body: dict[str, Any]) -> CreateAsyncOrderCriteria:
        try:
            order = CreateAsyncOrderCriteria.model_validate(body)
        except ValidationError as exc:
            raise ApiError(400, "Request validation failed", pydantic_errors(exc)) from exc
        most = self.config.max_line_items_per_order
        if len(order.lineItems) > most:
            raise ApiError(
                400,
                "Too many line items",
                [field_error("lineItems", "Size", f"at most {most} line items per order")],
            )
        return order

    def _plan(self, order: CreateAsyncOrderCriteria, currency: str) -> list[Plan]:
        seen: dict[str, int] = {}
        plans = []
        for line in order.lineItems:
            item = self.catalog.item(line.utid)
            problems = line_problems(line, item, currency)
            seen[line.externalRefLineItemID] = seen.get(line.externalRefLineItemID, 0) + 1
            if seen[line.externalRefLineItemID] > 1:
                problems.append(
                    line_error(
                        "externalRefLineItemID",
                        "DUPLICATE_LINE_ITEM",
                        "externalRefLineItemID repeats an earlier line",
                    )
                )
            value, fee = (
                line_cost(item, line) if item and not problems else (Decimal(0), Decimal(0))
            )
            plans.append(Plan(line, item, problems, value, fee))
        return plans

    def _insert(
        self, c: Connection, order: CreateAsyncOrderCriteria, plans: list[Plan], currency: str
    ) -> dict[str, Any]:
        """Store the order and its lines; returns the ``AsyncOrderEntity`` answered."""
        seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM orders").fetchone()[0]
        ref_order = f"RA{datetime.now(UTC):%y%m%d}-{seq:06d}-{secrets.randbelow(100):02d}"
        created = now_iso()
        failed = [p for p in plans if p.problems]
        status = "FAILED" if len(failed) == len(plans) else "PENDING"
        ready_at = time.time() + self.config.fulfil_latency_s
        failed_view = []
        for i, plan in enumerate(plans):
            ref_li = f"{ref_order}-{i + 1:04d}"
            insert_line(c, ref_order, ref_li, i, plan, currency, ready_at)
            if plan.problems:
                failed_view.append(
                    {
                        "lineItemId": ref_li,
                        "externalRefLineItemID": plan.line.externalRefLineItemID,
                        "utid": plan.line.utid,
                        "errors": plan.problems,
                    }
                )
        dupes = _repeats(plans)
        entity = clean(
            {
                "externalRefID": order.externalRefID,
                "status": "FAILED" if status == "FAILED" else "QUEUED",
                "totalLineItems": len(plans),
                "createdAt": created,
                "failedLineItems": failed_view,
                "duplicateLineItemRefIds": dupes or None,
            }
        )
        row = {
            "reference_order_id": ref_order,
            "seq": seq,
            "customer_identifier": order.customerIdentifier,
            "account_identifier": order.accountIdentifier,
            "external_ref_id": order.externalRefID,
            "status": status,
            "currency_code": currency,
            "campaign": order.campaign,
            "notes": order.notes,
            "purchase_order_number": order.purchaseOrderNumber,
            "sender_json": order.sender.model_dump_json(exclude_none=True)
            if order.sender
            else None,
            "entity_json": json.dumps(entity, default=float),
            "created_at": created,
            "completed_at": created if status == "FAILED" else None,
        }
        insert(c, "orders", row)
        if status == "FAILED":
            self.events.order_status(c, ref_order)
        elif all(p.problems or p.line.deliveryDate for p in plans):  # nothing due: all scheduled
            finish_if_done(c, self.events, ref_order)
        return entity


def _known(c: Connection, body: dict[str, Any]) -> dict[str, Any] | None:
    """The original answer when this account has seen this ``externalRefID`` before."""
    ref, acct = body.get("externalRefID"), body.get("accountIdentifier")
    if not (isinstance(ref, str) and isinstance(acct, str)):
        return None
    row = c.execute(
        "SELECT entity_json FROM orders WHERE account_identifier=? AND external_ref_id=?",
        (acct, ref),
    ).fetchone()
    return json.loads(row["entity_json"], parse_float=Decimal) if row else None


def _order_account(c: Connection, order: CreateAsyncOrderCriteria) -> Row:
    """The order's account, which must be its customer's (else 400 naming the field)."""
    cust = c.execute(
        "SELECT 1 FROM customers WHERE customer_identifier=?", (order.customerIdentifier,)
    ).fetchone()
    if not cust:
        raise ApiError(
            400,
            "Unknown customer",
            [
                field_error(
                    "customerIdentifier",
                    "NotFound",
                    f"customer {order.customerIdentifier} not found",
                )
            ],
        )
    account = c.execute(
        "SELECT * FROM accounts WHERE account_identifier=? AND customer_identifier=?",
        (order.accountIdentifier, order.customerIdentifier),
    ).fetchone()
    if not account:
        raise ApiError(
            400,
            "Unknown account",
            [
                field_error(
                    "accountIdentifier",
                    "NotFound",
                    f"account {order.accountIdentifier} not found for customer "
                    f"{order.customerIdentifier}",
                )
            ],
        )
    return account


def _repeats(plans: list[Plan]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in plans:
        counts[p.line.externalRefLineItemID] = counts.get(p.line.externalRefLineItemID, 0) + 1
    return {k: n for k, n in counts.items() if n > 1}


def insert_line(
    c: Connection,
    ref_order: str,
    ref_li: str,
    seq: int,
    plan: Plan,
    currency: str,
    ready_at: float,
) -> None:
    line, item, problems = plan.line, plan.item, plan.problems
    status = "FAILED" if problems else "PENDING"
    errors = [{"errorCode": e["errorCodeName"], "errorMessage": e["message"]} for e in problems]
    columns = {
        "reference_line_item_id": ref_li,
        "reference_order_id": ref_order,
        "seq": seq,
        "external_ref_line_item_id": line.externalRefLineItemID,
        "utid": line.utid,
        "reward_name": item.rewardName if item else None,
        "quantity": line.quantity or 1,
        "amount": str(line.amount),
        "fee": str(plan.fee),
        "charged": str(plan.cost),
        "currency_code": item.currencyCode if item else currency,
        "delivery_method": line.deliveryMethod.value,
        "recipient_json": line.recipient.model_dump_json(exclude_none=True),
        "shipping_method": line.shippingMethod,
        "status": status,
        "delivery_status": status,
        "scheduled_delivery_date": scheduled_date(line)
        if line.deliveryDate and not problems
        else None,
        "ready_at": ready_at,
        "date_issued": None,
        "credentials_json": None,
        "errors_json": json.dumps(errors) if problems else None,
        "email_subject": line.emailSubject,
        "message": line.message,
        "line_item_note": line.lineItemNote,
    }
    insert(c, "line_items", columns)
