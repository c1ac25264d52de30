"""Customers and their accounts (how their balances move: ``money.py``)."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from sqlite3 import Connection, Row
from typing import Any

from raas._accounts import UpdateAccountCriteria

from .config import SandboxConfig
from .errors import ApiError
from .money import credit
from .store import Store, insert, update_given
from .wire import field_error, now_iso, parse, require

IDENTIFIER = re.compile(r"[-a-zA-Z0-9]{5,100}")  # customer/account ids, as the document says
CURRENCIES = ("AUD", "CAD", "EUR", "GBP", "USD", "MXN", "SGD", "PLN")


def valid_identifier(value: str) -> bool:
    return bool(IDENTIFIER.fullmatch(value))


def account_view(row: Row) -> dict[str, Any]:
    return {
        "accountIdentifier": row["account_identifier"],
        "accountNumber": row["account_number"],
        "displayName": row["display_name"],
        "currencyCode": row["currency_code"],
        "currentBalance": Decimal(row["balance"]),
        "createdAt": row["created_at"],
        "status": row["status"],
        "contactEmail": row["contact_email"],
        "fundingNotification": json.loads(row["funding_notification_json"] or "[]"),
    }


SUMMARY_FIELDS = (
    "accountIdentifier",
    "accountNumber",
    "displayName",
    "createdAt",
    "status",
    "currencyCode",
)


def account_summary(row: Row) -> dict[str, Any]:
    view = account_view(row)
    return {k: view[k] for k in SUMMARY_FIELDS}


class Accounts:
    def __init__(self, config: SandboxConfig, store: Store) -> None:
        self.config = config
        self.store = store

    def seed(self) -> None:
        data = json.loads((self.config.seed_dir / "customers.json").read_text())
        with self.store.tx() as c:
            if c.execute("SELECT 1 FROM customers LIMIT 1").fetchone():
                return  # a restart keeps its state
            for cust in data["customers"]:
                _insert_customer(c, cust["customerIdentifier"], cust["displayName"])
                for acc in cust["accounts"]:
                    _insert_account(c, cust["customerIdentifier"], acc)

    # --- customers ---------------------------------------------------------------------------

    def _customer_view(self, c: Connection, row: Row) -> dict[str, Any]:
        accounts = c.execute(
            "SELECT * FROM accounts WHERE customer_identifier=? ORDER BY created_at, account_identifier",
            (row["customer_identifier"],),
        ).fetchall()
        return {
            "customerIdentifier": row["customer_identifier"],
            "displayName": row["display_name"],
            "status": row["status"],
            "createdAt": row["created_at"],
            "accounts": [account_summary(a) for a in accounts],
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
        errors = require(body, ("customerIdentifier", "displayName"))
        ident = body.get("customerIdentifier") if isinstance(body, dict) else None
        if isinstance(ident, str) and not valid_identifier(ident):
            errors.append(
                field_error("customerIdentifier", "Pattern", "must match ^[-a-zA-Z0-9]{5,100}$")
            )
        if errors:
            raise ApiError(400, "Invalid customer", errors)
        with self.store.tx() as c:
            if c.execute(
                "SELECT 1 FROM customers WHERE customer_identifier=?", (ident,)
            ).fetchone():
                raise ApiError(409, f"Customer {ident} already exists")
            _insert_customer(c, ident, body["displayName"])
        return {"customerIdentifier": ident, "displayName": body["displayName"]}

    # --- accounts ----------------------------------------------------------------------------

    def list_accounts(self, customer: str | None = None) -> list[dict[str, Any]]:
        with self.store.tx() as c:
            if customer is not None:
                _customer_must_exist(c, customer, 400)  # no 404 in the document
                rows = c.execute(
                    "SELECT * FROM accounts WHERE customer_identifier=? "
                    "ORDER BY account_identifier",
                    (customer,),
                ).fetchall()
            else:
                rows = c.execute("SELECT * FROM accounts ORDER BY account_identifier").fetchall()
            return [account_view(r) for r in rows]

    def get_account(self, account: str) -> dict[str, Any]:
        with self.store.tx() as c:
            row = c.execute(
                "SELECT * FROM accounts WHERE account_identifier=?", (account,)
            ).fetchone()
        if not row:
            raise ApiError(404, f"Account {account} not found")
        return account_view(row)

    def create_account(self, customer: str, body: Any) -> dict[str, Any]:
        errors = require(body, ("accountIdentifier", "displayName", "contactEmail"))
        if isinstance(body, dict):
            ident = body.get("accountIdentifier")
            if isinstance(ident, str) and not valid_identifier(ident):
                errors.append(
                    field_error("accountIdentifier", "Pattern", "must match ^[-a-zA-Z0-9]{5,100}$")
                )
            cur = body.get("currencyCode", "USD")
            if cur not in CURRENCIES:
                errors.append(field_error("currencyCode", "Enum", f"unsupported currency {cur}"))
        if errors:
            raise ApiError(400, "Invalid account", errors)
        with self.store.tx() as c:
            _customer_must_exist(c, customer, 400)  # no 404 in the document
            if c.execute(
                "SELECT 1 FROM accounts WHERE account_identifier=?", (body["accountIdentifier"],)
            ).fetchone():
                raise ApiError(409, f"Account {body['accountIdentifier']} already exists")
            _insert_account(c, customer, {**body, "currentBalance": "0"})  # new: zero balance
        return {
            "accountIdentifier": body["accountIdentifier"],
            "displayName": body["displayName"],
            "contactEmail": body["contactEmail"],
            "currencyCode": body.get("currencyCode", "USD"),
        }

    def update_account(self, customer: str, account: str, body: Any) -> dict[str, Any]:
        """Display name, contact email, funding notification addresses (a given list
        replaces the account's; an empty one clears it)."""
        change = parse(UpdateAccountCriteria, body)
        notify = change.fundingNotification
        values = {
            "display_name": change.displayName,
            "contact_email": change.contactEmail,
            "funding_notification_json": None
            if notify is None
            else json.dumps([c.model_dump() for c in notify]),
        }
        with self.store.tx() as c:
            _customer_must_exist(c, customer)
            if not c.execute(
                "SELECT 1 FROM accounts WHERE account_identifier=? AND customer_identifier=?",
                (account, customer),
            ).fetchone():
                raise ApiError(404, f"Account {account} not found for customer {customer}")
            update_given(c, "accounts", "account_identifier", account, values)
        return self.get_account(account)

    def fund_account(self, account: str, amount: Decimal) -> dict[str, Any]:
        if amount <= 0:
            raise ApiError(400, "amount must be positive")
        with self.store.tx() as c:
            if not c.execute(
                "SELECT 1 FROM accounts WHERE account_identifier=?", (account,)
            ).fetchone():
                raise ApiError(404, f"Account {account} not found")
            credit(c, account, amount)
        return self.get_account(account)


def _customer_must_exist(c: Connection, customer: str, missing: int = 404) -> None:
    """``missing``: 404 where the operation's document lists it, else 400."""
    if not c.execute("SELECT 1 FROM customers WHERE customer_identifier=?", (customer,)).fetchone():
        raise ApiError(
            missing,
            f"Customer {customer} not found",
            [field_error("customerIdentifier", "NotFound", f"no customer {customer}")],
        )


def _insert_account(c: Connection, customer: str, acc: dict[str, Any]) -> None:
    number = (
        f"A{int(hashlib.sha256(acc['accountIdentifier'].encode()).hexdigest(), 16) % 10**11:011d}"
    )
    row = {
        "account_identifier": acc["accountIdentifier"],
        "customer_identifier": customer,
        "account_number": number,
        "display_name": acc["displayName"],
        "currency_code": acc.get("currencyCode") or "USD",
        "balance": str(Decimal(str(acc.get("currentBalance", "0")))),
        "contact_email": acc.get("contactEmail"),
        "status": "ACTIVE",
        "created_at": now_iso(),
    }
    insert(c, "accounts", row)


def _insert_customer(c: Connection, customer: str, display_name: str) -> None:
    row = {
        "customer_identifier": customer,
        "display_name": display_name,
        "status": "ACTIVE",
        "created_at": now_iso(),
    }
    insert(c, "customers", row)
