"""The sandbox's behaviour, free of HTTP: what Tango does with each request.

Every method takes and returns plain JSON-ready dicts and raises :class:`ApiError` with the
status Tango would answer. ``process_due`` and ``deliver_due`` are the background work.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import re
import secrets
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from pydantic import ValidationError

from raas import rules
from raas._models import Catalog, CatalogItem, CreateAsyncOrderCriteria, LineItem
from raas.webhooks import SIGNATURE_HEADER, sign_hmac, sign_x509

from .config import SandboxConfig
from .errors import ApiError
from .store import Store

log = logging.getLogger("sandbox")

EVENT_CATEGORIES: dict[str, list[str]] = {
    "orders": ["AsyncOrderStatus", "LineItemDeliveryStatus"],
    "rewards": ["RewardStatus", "CredentialStatus"],
    "accounts": ["AccountStatus", "LowBalance", "Transaction"],
    "catalog": ["ItemAvailability", "ExchangeRatesStatus"],
    "connectivity": ["ConnectivityTest"],
}
CATEGORY_OF = {t: c for c, types in EVENT_CATEGORIES.items() for t in types}
ORDER_EVENT_STATUS = {"COMPLETE": "SUCCESSFUL", "PARTIAL": "PARTIALFAILED", "FAILED": "FAILED"}

# errorCodeValue / errorCodeName of line-level failures
LINE_ERRORS = {
    "UTID_NOT_FOUND": 1001,
    "ITEM_INACTIVE": 1002,
    "INVALID_AMOUNT": 1003,
    "DELIVERY_METHOD_NOT_SUPPORTED": 1004,
    "INVALID_RECIPIENT": 1005,
    "INVALID_DELIVERY_DATE": 1006,
    "DUPLICATE_LINE_ITEM": 1007,
    "CURRENCY_MISMATCH": 1008,
    "INVALID_QUANTITY": 1009,
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clean(value: Any) -> Any:
    """Drop ``None`` members: Tango leaves absent fields out rather than sending null."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(
            400, "Invalid cursor", [{"path": "nextCursor", "message": "unknown cursor"}]
        ) from exc


def page_bounds(max_results: str | int | None, default: int, ceiling: int) -> int:
    if max_results in (None, ""):
        return default
    try:
        n = int(max_results)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ApiError(
            400, "maxResults must be a number", [{"path": "maxResults", "message": "not a number"}]
        ) from exc
    if n < 1:
        raise ApiError(
            400,
            "maxResults must be at least 1",
            [{"path": "maxResults", "message": "must be >= 1"}],
        )
    return min(n, ceiling)


def _line_error(field: str, code: str, message: str) -> dict[str, Any]:
    return {
        "field": field,
        "errorCodeValue": LINE_ERRORS[code],
        "errorCodeName": code,
        "message": message,
    }


class Engine:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config.db_path)
        self.catalog = Catalog.model_validate(
            json.loads((config.seed_dir / "catalog.json").read_text())
        )
        self._fault_lock = threading.Lock()
        self._rng = random.Random(config.faults.seed)
        self.requests_seen = 0  # API requests received (benchmarks, rate-limit checks)
        self.rate_limited = 0  # of which answered 429 by the rate limit
        self.request_times: deque[float] = deque(maxlen=100_000)
        self._seed()

    # --- set-up ---------------------------------------------------------------------------

    def _seed(self) -> None:
        data = json.loads((self.config.seed_dir / "customers.json").read_text())
        with self.store.tx() as c:
            if c.execute("SELECT 1 FROM customers LIMIT 1").fetchone():
                return  # a restart keeps its state
            for cust in data["customers"]:
                c.execute(
                    "INSERT INTO customers VALUES (?,?,?,?)",
                    (cust["customerIdentifier"], cust["displayName"], "ACTIVE", now_iso()),
                )
                for acc in cust["accounts"]:
                    self._insert_account(c, cust["customerIdentifier"], acc)

    def _insert_account(self, c: Any, customer: str, acc: dict[str, Any]) -> None:
        number = f"A{int(hashlib.sha256(acc['accountIdentifier'].encode()).hexdigest(), 16) % 10**11:011d}"
        c.execute(
            "INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?,?)",
            (
                acc["accountIdentifier"],
                customer,
                number,
                acc["displayName"],
                acc.get("currencyCode") or "USD",
                str(Decimal(str(acc.get("currentBalance", "0")))),
                acc.get("contactEmail"),
                "ACTIVE",
                now_iso(),
            ),
        )

    def set_faults(self, faults: Any) -> None:
        with self._fault_lock:
            self.config.faults = faults
            self._rng = random.Random(faults.seed)

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._fault_lock:
            return self._rng.random() < rate

    def drop_answer(self) -> bool:
        """Should the answer of this (already committed) mutating request be lost?"""
        with self._fault_lock:
            faults = self.config.faults
            if faults.drop_next > 0:
                faults.drop_next -= 1
                return True
        return self.chance(faults.commit_then_drop_rate)

    def outage(self) -> bool:
        """True once ``orders_before_outage`` orders have gone through since it was set."""
        with self._fault_lock:
            faults = self.config.faults
            if faults.orders_before_outage is None:
                return False
            if faults.orders_before_outage == 0:
                return True
            faults.orders_before_outage -= 1
            return False

    def uniform(self, hi: float) -> float:
        with self._fault_lock:
            return self._rng.uniform(0, hi)

    # --- auth -----------------------------------------------------------------------------

    def check_basic(self, name: str, key: str) -> bool:
        return secrets.compare_digest(name, self.config.platform_name) and secrets.compare_digest(
            key, self.config.platform_key
        )

    def issue_token(self, client_id: str, client_secret: str) -> dict[str, Any]:
        if not self.check_basic(client_id, client_secret):
            raise ApiError(401, "invalid client credentials")
        token = secrets.token_urlsafe(32)
        with self.store.tx() as c:
            c.execute(
                "INSERT INTO tokens VALUES (?,?)", (token, time.time() + self.config.token_ttl_s)
            )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.config.token_ttl_s,
            "scope": "raas.all",
        }

    def check_token(self, token: str) -> bool:
        with self.store.tx() as c:
            row = c.execute("SELECT expires_at FROM tokens WHERE token=?", (token,)).fetchone()
        return bool(row) and row["expires_at"] > time.time()

    def revoke_tokens(self) -> None:
        with self.store.tx() as c:
            c.execute("DELETE FROM tokens")

    # --- customers and accounts -----------------------------------------------------------

    def _account_view(self, row: Any) -> dict[str, Any]:
        return {
            "accountIdentifier": row["account_identifier"],
            "accountNumber": row["account_number"],
            "displayName": row["display_name"],
            "currencyCode": row["currency_code"],
            "currentBalance": Decimal(row["balance"]),
            "createdAt": row["created_at"],
            "status": row["status"],
            "contactEmail": row["contact_email"],
        }

    def _account_summary(self, row: Any) -> dict[str, Any]:
        view = self._account_view(row)
        return {
            k: view[k]
            for k in (
                "accountIdentifier",
                "accountNumber",
                "displayName",
                "createdAt",
                "status",
                "currencyCode",
            )
        }

    def _customer_view(self, c: Any, row: Any) -> dict[str, Any]:
        accounts = c.execute(
            "SELECT * FROM accounts WHERE customer_identifier=? ORDER BY created_at, account_identifier",
            (row["customer_identifier"],),
        ).fetchall()
        return {
            "customerIdentifier": row["customer_identifier"],
            "displayName": row["display_name"],
            "status": row["status"],
            "createdAt": row["created_at"],
            "accounts": [self._account_summary(a) for a in accounts],
        }

    def list_customers(self) -> list[dict[str, Any]]:
        with self.store.tx() as c:
            rows = c.execute("SELECT * FROM customers ORDER BY customer_identifier").fetchall()
            return [self._customer_view(c, r) for r in rows]

    def get_customer(self, customer: str) -> dict[str, Any]:
        with self.store.tx() as c:
            row = c.execute(
                "SELECT * FROM customers WHERE customer_identifier=?", (customer,)
            ).fetchone()
            if not row:
                raise ApiError(404, f"Customer {customer} not found")
            return self._customer_view(c, row)

    def create_customer(self, body: Any) -> dict[str, Any]:
        errors = _require(body, ("customerIdentifier", "displayName"))
        ident = body.get("customerIdentifier") if isinstance(body, dict) else None
        if isinstance(ident, str) and not rules_identifier(ident):
            errors.append(
                {
                    "path": "customerIdentifier",
                    "code": "Pattern",
                    "message": "must match ^[-a-zA-Z0-9]{5,100}$",
                }
            )
        if errors:
            raise ApiError(400, "Invalid customer", errors)
        with self.store.tx() as c:
            if c.execute(
                "SELECT 1 FROM customers WHERE customer_identifier=?", (ident,)
            ).fetchone():
                raise ApiError(409, f"Customer {ident} already exists")
            c.execute(
                "INSERT INTO customers VALUES (?,?,?,?)",
                (ident, body["displayName"], "ACTIVE", now_iso()),
            )
        return {"customerIdentifier": ident, "displayName": body["displayName"]}

    def list_accounts(self, customer: str | None = None) -> list[dict[str, Any]]:
        with self.store.tx() as c:
            if customer is not None:
                if not c.execute(
                    "SELECT 1 FROM customers WHERE customer_identifier=?", (customer,)
                ).fetchone():
                    raise ApiError(404, f"Customer {customer} not found")
                rows = c.execute(
                    "SELECT * FROM accounts WHERE customer_identifier=? "
                    "ORDER BY account_identifier",
                    (customer,),
                ).fetchall()
            else:
                rows = c.execute("SELECT * FROM accounts ORDER BY account_identifier").fetchall()
            return [self._account_view(r) for r in rows]

    def get_account(self, account: str) -> dict[str, Any]:
        with self.store.tx() as c:
            row = c.execute(
                "SELECT * FROM accounts WHERE account_identifier=?", (account,)
            ).fetchone()
        if not row:
            raise ApiError(404, f"Account {account} not found")
        return self._account_view(row)

    def create_account(self, customer: str, body: Any) -> dict[str, Any]:
        errors = _require(body, ("accountIdentifier", "displayName", "contactEmail"))
        if isinstance(body, dict):
            ident = body.get("accountIdentifier")
            if isinstance(ident, str) and not rules_identifier(ident):
                errors.append(
                    {
                        "path": "accountIdentifier",
                        "code": "Pattern",
                        "message": "must match ^[-a-zA-Z0-9]{5,100}$",
                    }
                )
            cur = body.get("currencyCode", "USD")
            if cur not in ("AUD", "CAD", "EUR", "GBP", "USD", "MXN", "SGD", "PLN"):
                errors.append(
                    {
                        "path": "currencyCode",
                        "code": "Enum",
                        "message": f"unsupported currency {cur}",
                    }
                )
        if errors:
            raise ApiError(400, "Invalid account", errors)
        with self.store.tx() as c:
            if not c.execute(
                "SELECT 1 FROM customers WHERE customer_identifier=?", (customer,)
            ).fetchone():
                raise ApiError(404, f"Customer {customer} not found")
            if c.execute(
                "SELECT 1 FROM accounts WHERE account_identifier=?", (body["accountIdentifier"],)
            ).fetchone():
                raise ApiError(409, f"Account {body['accountIdentifier']} already exists")
            self._insert_account(c, customer, {**body, "currentBalance": "0"})  # new: zero balance
        return {
            "accountIdentifier": body["accountIdentifier"],
            "displayName": body["displayName"],
            "contactEmail": body["contactEmail"],
            "currencyCode": body.get("currencyCode", "USD"),
        }

    def fund_account(self, account: str, amount: Decimal) -> dict[str, Any]:
        if amount <= 0:
            raise ApiError(400, "amount must be positive")
        with self.store.tx() as c:
            if not c.execute(
                "SELECT 1 FROM accounts WHERE account_identifier=?", (account,)
            ).fetchone():
                raise ApiError(404, f"Account {account} not found")
            _credit(c, account, amount)
        return self.get_account(account)

    # --- async orders: creation -------------------------------------------------------------

    def create_order(self, body: Any) -> tuple[int, dict[str, Any]]:
        """202 with a new order, 200 with the original for a known ``externalRefID``."""
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object")
        ref, acct = body.get("externalRefID"), body.get("accountIdentifier")
        with self.store.tx() as c:
            if isinstance(ref, str) and isinstance(acct, str):
                row = c.execute(
                    "SELECT entity_json FROM orders WHERE account_identifier=? AND external_ref_id=?",
                    (acct, ref),
                ).fetchone()
                if row:
                    return 200, json.loads(row["entity_json"], parse_float=Decimal)
            try:
                order = CreateAsyncOrderCriteria.model_validate(body)
            except ValidationError as exc:
                raise ApiError(400, "Request validation failed", pydantic_errors(exc)) from exc
            if len(order.lineItems) > self.config.max_line_items_per_order:
                raise ApiError(
                    400,
                    "Too many line items",
                    [
                        {
                            "path": "lineItems",
                            "code": "Size",
                            "message": f"at most {self.config.max_line_items_per_order} line items per order",
                        }
                    ],
                )
            cust = c.execute(
                "SELECT 1 FROM customers WHERE customer_identifier=?", (order.customerIdentifier,)
            ).fetchone()
            if not cust:
                raise ApiError(
                    400,
                    "Unknown customer",
                    [
                        {
                            "path": "customerIdentifier",
                            "code": "NotFound",
                            "message": f"customer {order.customerIdentifier} not found",
                        }
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
                        {
                            "path": "accountIdentifier",
                            "code": "NotFound",
                            "message": f"account {order.accountIdentifier} not found for customer "
                            f"{order.customerIdentifier}",
                        }
                    ],
                )
            currency = account["currency_code"]
            seen: dict[str, int] = {}
            plans: list[
                tuple[LineItem, CatalogItem | None, list[dict[str, Any]], Decimal, Decimal]
            ] = []
            for line in order.lineItems:
                item = self.catalog.item(line.utid)
                problems = self._line_problems(line, item, currency)
                seen[line.externalRefLineItemID] = seen.get(line.externalRefLineItemID, 0) + 1
                if seen[line.externalRefLineItemID] > 1:
                    problems.append(
                        _line_error(
                            "externalRefLineItemID",
                            "DUPLICATE_LINE_ITEM",
                            "externalRefLineItemID repeats an earlier line",
                        )
                    )
                value, fee = (
                    rules.line_cost(item, line.amount, line.quantity or 1)
                    if item and not problems
                    else (Decimal(0), Decimal(0))
                )
                plans.append((line, item, problems, value, fee))
            cost = sum((v + f for _, _, p, v, f in plans if not p), Decimal(0))
            balance = Decimal(account["balance"])
            if cost > balance:
                raise ApiError(
                    402,
                    f"Insufficient funds: the order costs {cost} {currency}, "
                    f"the balance is {balance} {currency}",
                )
            seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM orders").fetchone()[0]
            ref_order = f"RA{datetime.now(UTC):%y%m%d}-{seq:06d}-{secrets.randbelow(100):02d}"
            created = now_iso()
            failed = [p for p in plans if p[2]]
            status = "FAILED" if len(failed) == len(plans) else "PENDING"
            ready_at = time.time() + self.config.fulfil_latency_s
            failed_view = []
            for i, (line, item, problems, value, fee) in enumerate(plans):
                ref_li = f"{ref_order}-{i + 1:04d}"
                scheduled = None
                if line.deliveryDate and not problems:
                    scheduled = (
                        rules.parse_delivery_date(line.deliveryDate).isoformat() + "T00:00:00Z"
                    )
                c.execute(
                    "INSERT INTO line_items VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        ref_li,
                        ref_order,
                        i,
                        line.externalRefLineItemID,
                        line.utid,
                        item.rewardName if item else None,
                        line.quantity or 1,
                        str(line.amount),
                        str(fee),
                        str(value + fee),
                        item.currencyCode if item else currency,
                        line.deliveryMethod.value,
                        line.recipient.model_dump_json(exclude_none=True),
                        line.shippingMethod,
                        "FAILED" if problems else "PENDING",
                        "FAILED" if problems else "PENDING",
                        scheduled,
                        ready_at,
                        None,
                        None,
                        json.dumps(
                            [
                                {"errorCode": e["errorCodeName"], "errorMessage": e["message"]}
                                for e in problems
                            ]
                        )
                        if problems
                        else None,
                        line.emailSubject,
                        line.message,
                        line.lineItemNote,
                    ),
                )
                if problems:
                    failed_view.append(
                        {
                            "lineItemId": ref_li,
                            "externalRefLineItemID": line.externalRefLineItemID,
                            "utid": line.utid,
                            "errors": problems,
                        }
                    )
            dupes = {k: n for k, n in seen.items() if n > 1}
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
            c.execute(
                "INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    ref_order,
                    seq,
                    order.customerIdentifier,
                    order.accountIdentifier,
                    order.externalRefID,
                    status,
                    currency,
                    order.campaign,
                    order.notes,
                    order.purchaseOrderNumber,
                    order.sender.model_dump_json(exclude_none=True) if order.sender else None,
                    json.dumps(entity, default=float),
                    created,
                    created if status == "FAILED" else None,
                ),
            )
            c.execute(
                "UPDATE accounts SET balance=? WHERE account_identifier=?",
                (str(balance - cost), order.accountIdentifier),
            )
            if status == "FAILED":
                self._emit_order_event(c, ref_order)
        return 202, entity

    def _line_problems(
        self, line: LineItem, item: CatalogItem | None, currency: str
    ) -> list[dict[str, Any]]:
        problem = rules.item_problem(item, line.utid)
        if problem or item is None:
            code = "UTID_NOT_FOUND" if item is None else "ITEM_INACTIVE"
            return [_line_error("utid", code, problem or "unknown utid")]
        out = []
        if item.currencyCode != currency:
            out.append(
                _line_error(
                    "utid",
                    "CURRENCY_MISMATCH",
                    f"{item.rewardName} is in {item.currencyCode}, the account in {currency}",
                )
            )
        if problem := rules.amount_problem(item, line.amount):
            out.append(_line_error("amount", "INVALID_AMOUNT", problem))
        qc = item.quantityConstraints
        qty = line.quantity or 1
        if qc and not (qc.minQuantity <= qty <= qc.maxQuantity):
            out.append(
                _line_error(
                    "quantity",
                    "INVALID_QUANTITY",
                    f"quantity must be {qc.minQuantity}..{qc.maxQuantity}",
                )
            )
        if problem := rules.method_problem(item, line.deliveryMethod.value):
            out.append(_line_error("deliveryMethod", "DELIVERY_METHOD_NOT_SUPPORTED", problem))
        r = line.recipient
        a = r.address
        has_address = bool(a and a.streetLine1 and a.city and a.postalCode and a.country)
        if found := rules.contact_problem(
            line.deliveryMethod.value,
            email=r.email,
            mobile_number=r.mobileNumber,
            has_address=has_address,
            shipping_method=line.shippingMethod,
        ):
            out.append(_line_error(found[0], "INVALID_RECIPIENT", found[1]))
        if line.deliveryDate:
            try:
                when = rules.parse_delivery_date(line.deliveryDate)
            except ValueError:
                out.append(
                    _line_error(
                        "deliveryDate",
                        "INVALID_DELIVERY_DATE",
                        "deliveryDate is not a date (YYYY-MM-DD)",
                    )
                )
            else:
                if problem := rules.delivery_date_problem(item, when):
                    out.append(_line_error("deliveryDate", "INVALID_DELIVERY_DATE", problem))
        return out

    # --- async orders: background fulfilment ------------------------------------------------

    def _fails(self, row: Any) -> str | None:
        recipient = json.loads(row["recipient_json"])
        email = (recipient.get("email") or "").lower()
        if email.endswith("@" + self.config.fail_email_domain):
            return f"delivery to {self.config.fail_email_domain} is refused by the sandbox"
        if self.config.failure_rate > 0:
            rng = random.Random(f"{self.config.failure_seed}:{row['external_ref_line_item_id']}")
            if rng.random() < self.config.failure_rate:
                return "simulated delivery failure (sandbox failure_rate)"
        return None

    def _credentials(self, ref_li: str, item: CatalogItem | None) -> list[dict[str, str]]:
        types = item.credentialTypes if item else ["cardNumber"]
        canary = self.config.credential_canary
        out = []
        for t in types or ["cardNumber"]:
            token = f"{canary}-{ref_li}-{secrets.token_hex(6).upper()}"
            if t == "redemptionUrl":
                out.append(
                    {
                        "label": "Redemption URL",
                        "value": f"https://rewards.sandbox.invalid/r/{token}",
                        "type": "url",
                        "credentialType": t,
                    }
                )
            elif t == "cardPin":
                out.append(
                    {
                        "label": "PIN",
                        "value": f"{canary}-PIN-{secrets.randbelow(10**6):06d}",
                        "type": "text",
                        "credentialType": t,
                    }
                )
            else:
                out.append(
                    {"label": "Card Number", "value": token, "type": "text", "credentialType": t}
                )
        return out

    def process_due(self, limit: int = 2000) -> int:
        """Move due line items to a final state; finish orders with nothing left to do."""
        now = time.time()
        with self.store.tx() as c:
            rows = c.execute(
                "SELECT * FROM line_items WHERE status='PENDING' AND scheduled_delivery_date IS NULL "
                "AND ready_at <= ? LIMIT ?",
                (now, limit),
            ).fetchall()
            if not rows:
                return 0
            touched = set()
            issued = now_iso()
            for row in rows:
                touched.add(row["reference_order_id"])
                reason = self._fails(row)
                if reason:
                    order = c.execute(
                        "SELECT account_identifier FROM orders WHERE reference_order_id=?",
                        (row["reference_order_id"],),
                    ).fetchone()
                    _credit(c, order["account_identifier"], Decimal(row["charged"]))  # refund
                    c.execute(
                        "UPDATE line_items SET status='FAILED', delivery_status='FAILED', charged='0', "
                        "errors_json=? WHERE reference_line_item_id=?",
                        (
                            json.dumps([{"errorCode": "DELIVERY_FAILED", "errorMessage": reason}]),
                            row["reference_line_item_id"],
                        ),
                    )
                else:
                    item = self.catalog.item(row["utid"] or "")
                    delivery = "DISPATCHED" if row["delivery_method"] == "ADDRESS" else "DELIVERED"
                    c.execute(
                        "UPDATE line_items SET status='COMPLETE', delivery_status=?, date_issued=?, "
                        "credentials_json=? WHERE reference_line_item_id=?",
                        (
                            delivery,
                            issued,
                            json.dumps(self._credentials(row["reference_line_item_id"], item)),
                            row["reference_line_item_id"],
                        ),
                    )
            for ref_order in touched:
                self._maybe_finish(c, ref_order)
            return len(rows)

    def _maybe_finish(self, c: Any, ref_order: str) -> None:
        left = c.execute(
            "SELECT COUNT(*) FROM line_items WHERE reference_order_id=? AND status='PENDING' "
            "AND scheduled_delivery_date IS NULL",
            (ref_order,),
        ).fetchone()[0]
        if left:
            return
        counts = dict(
            c.execute(
                "SELECT status, COUNT(*) FROM line_items WHERE reference_order_id=? GROUP BY status",
                (ref_order,),
            ).fetchall()
        )
        failed = counts.get("FAILED", 0)
        total = sum(counts.values())
        status = "FAILED" if failed == total else ("PARTIAL" if failed else "COMPLETE")
        c.execute(
            "UPDATE orders SET status=?, completed_at=? WHERE reference_order_id=?",
            (status, now_iso(), ref_order),
        )
        self._emit_order_event(c, ref_order)

    # --- async orders: reading --------------------------------------------------------------

    def _order_row(self, c: Any, customer: str, account: str, ref: str) -> Any:
        row = c.execute(
            "SELECT * FROM orders WHERE customer_identifier=? AND account_identifier=? AND "
            "external_ref_id=?",
            (customer, account, ref),
        ).fetchone()
        if not row:
            raise ApiError(404, f"Async order {ref} not found on account {account}")
        return row

    def _order_money(self, c: Any, row: Any) -> dict[str, Any]:
        lines = c.execute(
            "SELECT amount, quantity, fee, charged FROM line_items WHERE "
            "reference_order_id=? AND status != 'FAILED'",
            (row["reference_order_id"],),
        ).fetchall()
        value = sum((Decimal(li["amount"]) * li["quantity"] for li in lines), Decimal(0))
        total = sum((Decimal(li["charged"]) for li in lines), Decimal(0))
        return {
            "currencyCode": row["currency_code"],
            "value": value,
            "total": total,
            "shippingFee": Decimal(0),
        }

    @staticmethod
    def _recipient(li: Any) -> dict[str, Any]:
        return json.loads(li["recipient_json"])

    def _line_summary(self, li: Any) -> dict[str, Any]:
        value = Decimal(li["amount"]) * li["quantity"]
        charged = Decimal(li["charged"])
        return clean(
            {
                "referenceLineItemId": li["reference_line_item_id"],
                "externalRefLineItemID": li["external_ref_line_item_id"],
                "lineItemStatus": li["status"],
                "deliveryStatus": li["delivery_status"],
                "recipient": self._recipient(li),
                "deliveryMethod": li["delivery_method"],
                "rewardName": li["reward_name"],
                "quantity": li["quantity"],
                "amount": Decimal(li["amount"]),
                "amountCharged": {
                    "value": value if charged else Decimal(0),
                    "currencyCode": li["currency_code"],
                    "exchangeRate": Decimal(1),
                    "fee": Decimal(li["fee"]) if charged else Decimal(0),
                    "total": charged,
                },
                "scheduledDeliveryDate": li["scheduled_delivery_date"],
                "lineItemErrors": json.loads(li["errors_json"]) if li["errors_json"] else [],
            }
        )

    def _line_page(
        self, c: Any, row: Any, params: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        size = page_bounds(params.get("maxResults"), 100, 1000)
        offset = decode_cursor(params.get("nextCursor") or params.get("prevCursor"))
        where = "reference_order_id=?"
        args: list[Any] = [row["reference_order_id"]]
        if str(params.get("failedOnly", "")).lower() == "true":
            where += " AND status='FAILED'"
        if params.get("externalRefLineItemIDs"):
            ids = str(params["externalRefLineItemIDs"]).split(",")
            where += f" AND external_ref_line_item_id IN ({','.join('?' * len(ids))})"
            args += ids
        if params.get("referenceLineItemIDs"):
            ids = str(params["referenceLineItemIDs"]).split(",")
            where += f" AND reference_line_item_id IN ({','.join('?' * len(ids))})"
            args += ids
        total = c.execute(f"SELECT COUNT(*) FROM line_items WHERE {where}", args).fetchone()[0]
        lines = c.execute(
            f"SELECT * FROM line_items WHERE {where} ORDER BY seq LIMIT ? OFFSET ?",
            [*args, size, offset],
        ).fetchall()
        more = offset + len(lines) < total
        pagination = clean(
            {
                "prevCursor": encode_cursor(max(offset - size, 0)) if offset else None,
                "nextCursor": encode_cursor(offset + size) if more else None,
                "prevPageAvailable": offset > 0,
                "nextPageAvailable": more,
                "maxResults": size,
                "numberOfElements": len(lines),
            }
        )
        return lines, pagination

    def order_summary(
        self, customer: str, account: str, ref: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The order and one page of its line items, without any credential."""
        with self.store.tx() as c:
            row = self._order_row(c, customer, account, ref)
            lines, pagination = self._line_page(c, row, params)
            total = c.execute(
                "SELECT COUNT(*) FROM line_items WHERE reference_order_id=?",
                (row["reference_order_id"],),
            ).fetchone()[0]
            return clean(
                {
                    "referenceOrderID": row["reference_order_id"],
                    "externalRefID": row["external_ref_id"],
                    "orderStatus": row["status"],
                    "createdAt": row["created_at"],
                    "completedAt": row["completed_at"],
                    "customerIdentifier": row["customer_identifier"],
                    "accountIdentifier": row["account_identifier"],
                    "sender": json.loads(row["sender_json"]) if row["sender_json"] else None,
                    "amountCharged": self._order_money(c, row),
                    "campaign": row["campaign"],
                    "purchaseOrderNumber": row["purchase_order_number"],
                    "notes": row["notes"],
                    "totalLineItems": total,
                    "pagination": pagination,
                    "orderErrors": [],
                    "lineItems": [self._line_summary(li) for li in lines],
                }
            )

    def order_line_items(
        self, customer: str, account: str, ref: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The order's line items *with credentials* (Tango's ``.../lineItems`` view)."""
        with self.store.tx() as c:
            row = self._order_row(c, customer, account, ref)
            lines, pagination = self._line_page(c, row, params)
            items = []
            for li in lines:
                summary = self._line_summary(li)
                creds = json.loads(li["credentials_json"]) if li["credentials_json"] else []
                item = self.catalog.item(li["utid"] or "")
                issued = li["date_issued"] or row["created_at"]
                items.append(
                    clean(
                        {
                            "referenceLineItemID": li["reference_line_item_id"],
                            "externalRefLineItemID": li["external_ref_line_item_id"],
                            "lineItemStatus": li["status"],
                            "lineItemErrors": summary["lineItemErrors"],
                            "deliveryStatus": li["delivery_status"],
                            "deliveryMethod": li["delivery_method"],
                            "scheduledDeliveryDate": li["scheduled_delivery_date"],
                            "etid": "E000000",
                            "utid": li["utid"],
                            "canCancel": li["status"] == "PENDING",
                            "canFreeze": False,
                            "rewardName": li["reward_name"] or "",
                            "quantity": li["quantity"],
                            "shippingMethod": li["shipping_method"],
                            "amountIssued": summary["amountCharged"],
                            "amountCharged": summary["amountCharged"],
                            "dateIssued": issued,
                            "expirationDate": "2099-12-31T00:00:00Z",
                            "recipient": self._recipient(li),
                            "emailSubject": li["email_subject"],
                            "message": li["message"],
                            "lineItemNotes": li["line_item_note"],
                            "rewards": [
                                {
                                    "rewardStatus": "ACTIVE",
                                    "credentialList": creds,
                                    "redemptionInstructions": item.redemptionInstructions
                                    if item
                                    else "",
                                }
                            ]
                            if creds
                            else [],
                        }
                    )
                )
            return clean(
                {
                    "referenceOrderID": row["reference_order_id"],
                    "externalRefID": row["external_ref_id"],
                    "accountIdentifier": row["account_identifier"],
                    "customerIdentifier": row["customer_identifier"],
                    "amountCharged": self._order_money(c, row),
                    "campaign": row["campaign"],
                    "orderNotes": row["notes"],
                    "orderStatus": row["status"],
                    "orderErrors": [],
                    "pagination": pagination,
                    "lineItems": items,
                }
            )

    def list_orders(self, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /asyncOrders``: FAILED orders are left out, as Tango does."""
        size = page_bounds(params.get("maxResults"), 50, 500)
        offset = decode_cursor(params.get("nextCursor") or params.get("prevCursor"))
        where, args = ["o.status != 'FAILED'"], []
        for param, column in (
            ("accountIdentifier", "account_identifier"),
            ("customerIdentifier", "customer_identifier"),
            ("externalRefID", "external_ref_id"),
            ("orderStatus", "status"),
            ("campaign", "campaign"),
        ):
            if params.get(param):
                where.append(f"o.{column}=?")
                args.append(params[param])
        sql = " AND ".join(where)
        with self.store.tx() as c:
            total = c.execute(f"SELECT COUNT(*) FROM orders o WHERE {sql}", args).fetchone()[0]
            rows = c.execute(
                f"SELECT o.*, a.account_number FROM orders o JOIN accounts a ON "
                f"a.account_identifier=o.account_identifier WHERE {sql} ORDER BY o.seq "
                f"LIMIT ? OFFSET ?",
                [*args, size, offset],
            ).fetchall()
            orders = []
            for row in rows:
                count = c.execute(
                    "SELECT COUNT(*) FROM line_items WHERE reference_order_id=?",
                    (row["reference_order_id"],),
                ).fetchone()[0]
                orders.append(
                    clean(
                        {
                            "createdAt": row["created_at"],
                            "referenceOrderID": row["reference_order_id"],
                            "externalRefID": row["external_ref_id"],
                            "customerIdentifier": row["customer_identifier"],
                            "accountIdentifier": row["account_identifier"],
                            "accountNumber": row["account_number"],
                            "campaign": row["campaign"] or "",
                            "notes": row["notes"],
                            "purchaseOrderNumber": row["purchase_order_number"],
                            "orderStatus": row["status"],
                            "totalLineItemsRows": count,
                            "amountCharged": self._order_money(c, row),
                        }
                    )
                )
        more = offset + len(rows) < total
        return clean(
            {
                "prevCursor": encode_cursor(max(offset - size, 0)) if offset else None,
                "nextCursor": encode_cursor(offset + size) if more else None,
                "prevPageAvailable": offset > 0,
                "nextPageAvailable": more,
                "maxResults": size,
                "orders": orders,
            }
        )

    def cancel_line_item(self, ref_li: str, body: Any) -> str:
        reasons = {
            "DELIVERY_INFO",
            "REWARD_AMOUNT",
            "REWARD_TYPE",
            "RECIPIENT",
            "CURRENCY",
            "RECIPIENT_REQUESTED",
            "RECIPIENT_OBLIGATIONS",
            "DUPLICATE",
            "FRAUD",
            "OTHER",
        }
        if not isinstance(body, dict) or body.get("reasonCode") not in reasons:
            raise ApiError(
                400,
                "reasonCode is required",
                [{"path": "reasonCode", "code": "Enum", "message": f"one of {sorted(reasons)}"}],
            )
        with self.store.tx() as c:
            li = c.execute(
                "SELECT * FROM line_items WHERE reference_line_item_id=?", (ref_li,)
            ).fetchone()
            if not li:
                raise ApiError(400, f"Line item {ref_li} not found")
            if li["status"] != "PENDING":
                raise ApiError(422, f"Line item {ref_li} is {li['status']} and cannot be cancelled")
            order = c.execute(
                "SELECT * FROM orders WHERE reference_order_id=?", (li["reference_order_id"],)
            ).fetchone()
            _credit(c, order["account_identifier"], Decimal(li["charged"]))  # refund
            c.execute(
                "UPDATE line_items SET status='CANCELLED', delivery_status='FAILED', "
                "charged='0' WHERE reference_line_item_id=?",
                (ref_li,),
            )
            if order["status"] == "PENDING":
                self._maybe_finish(c, li["reference_order_id"])
        return "Accepted"

    # --- webhooks ---------------------------------------------------------------------------

    def _webhook_view(self, row: Any) -> dict[str, Any]:
        return clean(
            {
                "webhookId": row["webhook_id"],
                "url": row["url"],
                "headers": json.loads(row["headers_json"]),
                "categories": json.loads(row["categories_json"]),
                "eventTypes": json.loads(row["event_types_json"]),
                "signingCertificate": row["certificate"],
                "hmacSharedSecretKey": row["hmac_key"],
                "createdAt": row["created_at"],
                "updatedAt": row["updated_at"],
                "expiresAt": row["expires_at"],
                "payloadVerificationMethod": row["verification"],
            }
        )

    def _webhook_row(self, c: Any, webhook_id: str) -> Any:
        row = c.execute("SELECT * FROM webhooks WHERE webhook_id=?", (webhook_id,)).fetchone()
        if not row:
            raise ApiError(404, f"Webhook subscription {webhook_id} not found")
        return row

    def create_webhook(self, body: Any, signing_key_pem: str | None = None) -> dict[str, Any]:
        errors = _require(body, ("url",))
        if isinstance(body, dict):
            method = body.get("payloadVerificationMethod", "NONE")
            if method not in ("HMAC", "X509", "NONE"):
                errors.append(
                    {
                        "path": "payloadVerificationMethod",
                        "code": "Enum",
                        "message": "one of HMAC, X509, NONE",
                    }
                )
            if method == "HMAC" and not body.get("hmacSharedSecretKey"):
                errors.append(
                    {
                        "path": "hmacSharedSecretKey",
                        "code": "NotBlank",
                        "message": "required for HMAC",
                    }
                )
            if method == "HMAC" and body.get("hmacSharedSecretKey"):
                try:
                    base64.b64decode(body["hmacSharedSecretKey"], validate=True)
                except ValueError:
                    errors.append(
                        {
                            "path": "hmacSharedSecretKey",
                            "code": "Base64",
                            "message": "must be base64",
                        }
                    )
            if method == "X509" and not (body.get("signingCertificate") and signing_key_pem):
                errors.append(
                    {
                        "path": "signingCertificate",
                        "code": "NotBlank",
                        "message": "required for X509 (the sandbox issues one: "
                        "POST /sandbox/x509 returns a key pair)",
                    }
                )
            for h in body.get("headers") or []:
                if not isinstance(h, dict) or not h.get("name") or not h.get("value"):
                    errors.append(
                        {
                            "path": "headers",
                            "code": "NotBlank",
                            "message": "each header needs a name and a value",
                        }
                    )
        if errors:
            raise ApiError(400, "Invalid webhook subscription", errors)
        webhook_id = str(uuid.uuid4())
        created = now_iso()
        expires = (
            (datetime.now(UTC) + timedelta(days=self.config.webhook_ttl_days))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        types = body.get("eventTypes") or []
        with self.store.tx() as c:
            c.execute(
                "INSERT INTO webhooks VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    webhook_id,
                    body["url"],
                    json.dumps(body.get("headers") or []),
                    json.dumps(body.get("categories") or []),
                    json.dumps(types),
                    method,
                    body.get("hmacSharedSecretKey"),
                    body.get("signingCertificate"),
                    signing_key_pem,
                    created,
                    created,
                    expires,
                ),
            )
        return {"webhookId": webhook_id, "expiresAt": expires}

    def list_webhooks(self) -> dict[str, Any]:
        with self.store.tx() as c:
            rows = c.execute("SELECT * FROM webhooks ORDER BY created_at").fetchall()
        items = [self._webhook_view(r) for r in rows]
        return {
            "numberOfElements": len(items),
            "maxResults": max(len(items), 1),
            "items": items,
            "prevPageAvailable": False,
            "nextPageAvailable": False,
        }

    def get_webhook(self, webhook_id: str) -> dict[str, Any]:
        with self.store.tx() as c:
            return self._webhook_view(self._webhook_row(c, webhook_id))

    def delete_webhook(self, webhook_id: str) -> None:
        with self.store.tx() as c:
            self._webhook_row(c, webhook_id)
            c.execute("DELETE FROM webhooks WHERE webhook_id=?", (webhook_id,))
            c.execute(
                "UPDATE deliveries SET state='cancelled' WHERE state='pending' AND revision IN "
                "(SELECT revision FROM events WHERE webhook_id=?)",
                (webhook_id,),
            )

    def renew_webhook(self, webhook_id: str) -> dict[str, Any]:
        expires = (
            (datetime.now(UTC) + timedelta(days=self.config.webhook_ttl_days))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        with self.store.tx() as c:
            self._webhook_row(c, webhook_id)
            c.execute(
                "UPDATE webhooks SET expires_at=?, updated_at=? WHERE webhook_id=?",
                (expires, now_iso(), webhook_id),
            )
        return {"webhookId": webhook_id, "expiresAt": expires}

    def list_events(self, webhook_id: str, params: dict[str, Any]) -> dict[str, Any]:
        size = page_bounds(params.get("maxResults"), 50, 500)
        offset = decode_cursor(params.get("nextCursor") or params.get("prevCursor"))
        lo = int(params.get("fromRevision") or 0)
        hi = int(params.get("toRevision") or 2**62)
        with self.store.tx() as c:
            self._webhook_row(c, webhook_id)
            args = (webhook_id, lo, hi)
            total = c.execute(
                "SELECT COUNT(*) FROM events WHERE webhook_id=? AND revision BETWEEN ? AND ?", args
            ).fetchone()[0]
            rows = c.execute(
                "SELECT body FROM events WHERE webhook_id=? AND revision BETWEEN ? "
                "AND ? ORDER BY revision LIMIT ? OFFSET ?",
                (*args, size, offset),
            ).fetchall()
        more = offset + len(rows) < total
        return clean(
            {
                "numberOfElements": len(rows),
                "maxResults": size,
                "prevCursor": encode_cursor(max(offset - size, 0)) if offset else None,
                "nextCursor": encode_cursor(offset + size) if more else None,
                "items": [json.loads(r["body"]) for r in rows],
                "prevPageAvailable": offset > 0,
                "nextPageAvailable": more,
            }
        )

    def replay_events(self, webhook_id: str, from_revision: int, to_revision: int | None) -> None:
        with self.store.tx() as c:
            self._webhook_row(c, webhook_id)
            rows = c.execute(
                "SELECT revision FROM events WHERE webhook_id=? AND revision BETWEEN ? AND ?",
                (webhook_id, from_revision, to_revision or 2**62),
            ).fetchall()
            for r in rows:
                c.execute(
                    "INSERT INTO deliveries (revision, next_at, state) VALUES (?,?,'pending')",
                    (r["revision"], time.time()),
                )

    def test_webhook(self, webhook_id: str, test_name: str | None) -> None:
        with self.store.tx() as c:
            row = self._webhook_row(c, webhook_id)
            event_type = test_name or "ConnectivityTest"
            data: dict[str, Any] = {"message": "Test event from the Tango sandbox"}
            if event_type == "AsyncOrderStatus":
                data = {
                    "externalRefID": "TEST-ORDER",
                    "status": "SUCCESSFUL",
                    "totalLineItems": 1,
                    "failedLineItems": 0,
                    "successfulLineItems": 1,
                    "referenceOrderId": "RA000000-000000-00",
                    "accountIdentifier": "test-account",
                    "customerIdentifier": "test-customer",
                }
            self._insert_event(c, row["webhook_id"], event_type, data, force=True)

    def _subscribers(self, c: Any, event_type: str) -> list[Any]:
        now = now_iso()
        out = []
        for row in c.execute("SELECT * FROM webhooks WHERE expires_at > ?", (now,)).fetchall():
            types = json.loads(row["event_types_json"])
            cats = json.loads(row["categories_json"])
            if event_type in types or CATEGORY_OF.get(event_type) in cats:
                out.append(row)
        return out

    def _insert_event(
        self, c: Any, webhook_id: str, event_type: str, data: dict[str, Any], force: bool = False
    ) -> None:
        event_id = str(uuid.uuid4())
        cur = c.execute(
            "INSERT INTO events (event_id, webhook_id, event_type, body) VALUES (?,?,?,'{}')",
            (event_id, webhook_id, event_type),
        )
        revision = cur.lastrowid
        body = {
            "eventId": event_id,
            "revision": revision,
            "eventType": event_type,
            "categories": [CATEGORY_OF.get(event_type, "connectivity")],
            "eventOccurredAt": now_iso(),
            "eventData": data,
        }
        c.execute("UPDATE events SET body=? WHERE revision=?", (json.dumps(body), revision))
        delay = self.uniform(self.config.faults.webhook_reorder_window_s)
        c.execute(
            "INSERT INTO deliveries (revision, next_at, state) VALUES (?,?,'pending')",
            (revision, time.time() + delay),
        )

    def _emit_order_event(self, c: Any, ref_order: str) -> None:
        row = c.execute("SELECT * FROM orders WHERE reference_order_id=?", (ref_order,)).fetchone()
        counts = dict(
            c.execute(
                "SELECT status, COUNT(*) FROM line_items WHERE reference_order_id=? "
                "GROUP BY status",
                (ref_order,),
            ).fetchall()
        )
        total = sum(counts.values())
        failed = counts.get("FAILED", 0) + counts.get("CANCELLED", 0)
        data = {
            "externalRefID": row["external_ref_id"],
            "status": ORDER_EVENT_STATUS.get(row["status"], "SUCCESSFUL"),
            "totalLineItems": total,
            "failedLineItems": failed,
            "successfulLineItems": total - failed,
            "referenceOrderId": ref_order,
            "accountIdentifier": row["account_identifier"],
            "customerIdentifier": row["customer_identifier"],
        }
        for sub in self._subscribers(c, "AsyncOrderStatus"):
            self._insert_event(c, sub["webhook_id"], "AsyncOrderStatus", data)

    def deliver_due(self, http: httpx.Client, limit: int = 100) -> int:
        """POST due events to their subscribers, signed; retry non-2xx with backoff."""
        now = time.time()
        with self.store.tx() as c:
            due = c.execute(
                "SELECT d.id, d.attempts, e.body, w.* FROM deliveries d "
                "JOIN events e ON e.revision=d.revision JOIN webhooks w ON w.webhook_id=e.webhook_id "
                "WHERE d.state='pending' AND d.next_at <= ? ORDER BY d.next_at LIMIT ?",
                (now, limit),
            ).fetchall()
        faults = self.config.faults
        for row in due:
            if row["attempts"] == 0 and self.chance(faults.webhook_drop_rate):
                self._mark(row["id"], "dropped", None)
                continue
            copies = 2 if self.chance(faults.webhook_duplicate_rate) else 1
            body = row["body"].encode()
            headers = {h["name"]: h["value"] for h in json.loads(row["headers_json"])}
            headers["Content-Type"] = "application/json"
            if row["verification"] == "HMAC" and row["hmac_key"]:
                headers[SIGNATURE_HEADER] = sign_hmac(body, row["hmac_key"])
            elif row["verification"] == "X509" and row["signing_key"]:
                headers[SIGNATURE_HEADER] = sign_x509(body, row["signing_key"].encode())
            status: int | None = None
            for _ in range(copies):
                try:
                    status = http.post(row["url"], content=body, headers=headers).status_code
                except httpx.HTTPError:
                    status = None
            if status is not None and 200 <= status < 300:
                self._mark(row["id"], "delivered", status)
            else:
                attempts = row["attempts"] + 1
                if attempts >= self.config.webhook_max_attempts:
                    self._mark(row["id"], "failed", status, attempts)
                else:
                    with self.store.tx() as c:
                        c.execute(
                            "UPDATE deliveries SET attempts=?, next_at=?, last_status=? WHERE id=?",
                            (
                                attempts,
                                time.time() + self.config.webhook_backoff_s * 2 ** (attempts - 1),
                                status,
                                row["id"],
                            ),
                        )
        return len(due)

    def _mark(
        self, delivery_id: int, state: str, status: int | None, attempts: int | None = None
    ) -> None:
        with self.store.tx() as c:
            c.execute(
                "UPDATE deliveries SET state=?, last_status=?, attempts=COALESCE(?, attempts+1) "
                "WHERE id=?",
                (state, status, attempts, delivery_id),
            )

    # --- introspection for tests and the chaos campaign -----------------------------------

    def busiest_window(self, seconds: float) -> int:
        """The most API requests received within any ``seconds``-long window."""
        times, best, lo = list(self.request_times), 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] > seconds:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def stats(self) -> dict[str, Any]:
        with self.store.tx() as c:
            orders = c.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
            lines = dict(
                c.execute("SELECT status, COUNT(*) FROM line_items GROUP BY status").fetchall()
            )
            dup = c.execute(
                "SELECT COUNT(*) FROM (SELECT o.account_identifier, l.external_ref_line_item_id "
                "FROM line_items l JOIN orders o ON o.reference_order_id=l.reference_order_id "
                "WHERE l.status != 'FAILED' OR l.errors_json NOT LIKE '%DUPLICATE_LINE_ITEM%' "
                "GROUP BY 1, 2 HAVING COUNT(*) > 1)"
            ).fetchone()[0]
            deliveries = dict(
                c.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall()
            )
        return {
            "orders": orders,
            "lineItems": lines,
            "duplicateLineItemIds": dup,
            "deliveries": deliveries,
        }


def _credit(c: Any, account: str, amount: Decimal) -> None:
    """Add ``amount`` (negative to debit) to the account's balance, inside the caller's tx."""
    bal = c.execute(
        "SELECT balance FROM accounts WHERE account_identifier=?", (account,)
    ).fetchone()["balance"]
    c.execute(
        "UPDATE accounts SET balance=? WHERE account_identifier=?",
        (str(Decimal(bal) + amount), account),
    )


IDENTIFIER = re.compile(r"[-a-zA-Z0-9]{5,100}")  # customer/account ids, as the document says


def rules_identifier(value: str) -> bool:
    return bool(IDENTIFIER.fullmatch(value))


def _require(body: Any, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return [{"path": "body", "code": "Type", "message": "must be a JSON object"}]
    return [
        {"path": f, "code": "NotBlank", "message": f"{f} is required"}
        for f in fields
        if not body.get(f)
    ]


def pydantic_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as Tango's ``errors[]``: ``lineItems[3].recipient.email``-style paths."""
    out = []
    for err in exc.errors():
        path = ""
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        out.append({"path": path or "body", "code": err["type"], "message": err["msg"]})
    return out
