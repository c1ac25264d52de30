"""Low-balance alerts of an account (``.../lowbalance``). Who hears when the balance goes
below one: ``money.py``."""

from __future__ import annotations

import json
import math
import uuid
from decimal import Decimal
from sqlite3 import Connection, Row
from typing import Any

from raas._accounts import LowBalanceAlertCriteria, UpdateLowBalanceAlertCriteria

from .errors import ApiError
from .store import Store, insert, update_given
from .wire import clean, field_error, now_iso, page_bounds, parse

DEFAULT_NAME = "Low balance"


def alert_view(row: Row) -> dict[str, Any]:
    return clean(
        {
            "createdAt": row["created_at"],
            "balanceAlertID": row["alert_id"],
            "customerIdentifier": row["customer_identifier"],
            "accountIdentifier": row["account_identifier"],
            "balanceAlertDisplayName": row["display_name"],
            "balanceAlertThreshold": Decimal(row["threshold"]),
            "balanceAlertNotification": json.loads(row["notification_json"]),
        }
    )


def _contacts(criteria: LowBalanceAlertCriteria | UpdateLowBalanceAlertCriteria) -> str | None:
    given = criteria.balanceAlertNotification
    return None if given is None else json.dumps([c.model_dump() for c in given])


class Alerts:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _account(self, c: Connection, customer: str, account: str) -> None:
        """The account must be the customer's (400: the document lists no 404 here)."""
        if not c.execute(
            "SELECT 1 FROM accounts WHERE account_identifier=? AND customer_identifier=?",
            (account, customer),
        ).fetchone():
            raise ApiError(
                400,
                f"Account {account} not found for customer {customer}",
                [field_error("accountIdentifier", "NotFound", f"no account {account}")],
            )

    def _row(self, c: Connection, customer: str, account: str, alert: str, missing: int) -> Row:
        self._account(c, customer, account)
        row = c.execute(
            "SELECT * FROM balance_alerts WHERE alert_id=? AND account_identifier=?",
            (alert, account),
        ).fetchone()
        if row is None:
            raise ApiError(
                missing,
                f"Low balance alert {alert} not found",
                [field_error("balanceAlertID", "NotFound", f"no alert {alert}")],
            )
        return row

    def _no_twin(self, c: Connection, account: str, threshold: Decimal, alert: str = "") -> None:
        """One alert per threshold on an account (409)."""
        for row in c.execute(
            "SELECT alert_id, threshold FROM balance_alerts WHERE account_identifier=?", (account,)
        ):
            if Decimal(row["threshold"]) == threshold and row["alert_id"] != alert:
                raise ApiError(409, f"Account {account} has an alert at {threshold} already")

    def create(self, customer: str, account: str, body: Any) -> dict[str, Any]:
        criteria = parse(LowBalanceAlertCriteria, body)
        with self.store.tx() as c:
            self._account(c, customer, account)
            self._no_twin(c, account, criteria.balanceAlertThreshold)
            alert = str(uuid.uuid4())
            insert(
                c,
                "balance_alerts",
                {
                    "alert_id": alert,
                    "customer_identifier": customer,
                    "account_identifier": account,
                    "display_name": criteria.balanceAlertDisplayName or DEFAULT_NAME,
                    "threshold": str(criteria.balanceAlertThreshold),
                    "notification_json": _contacts(criteria),
                    "created_at": now_iso(),
                },
            )
            return alert_view(self._row(c, customer, account, alert, 400))

    def get(self, customer: str, account: str, alert: str) -> dict[str, Any]:
        with self.store.tx() as c:
            return alert_view(self._row(c, customer, account, alert, 404))

    def update(self, customer: str, account: str, alert: str, body: Any) -> dict[str, Any]:
        change = parse(UpdateLowBalanceAlertCriteria, body)
        with self.store.tx() as c:
            self._row(c, customer, account, alert, 400)
            if change.balanceAlertThreshold is not None:
                self._no_twin(c, account, change.balanceAlertThreshold, alert)
            values = {
                "display_name": change.balanceAlertDisplayName,
                "threshold": None
                if change.balanceAlertThreshold is None
                else str(change.balanceAlertThreshold),
                "notification_json": _contacts(change),
            }
            update_given(c, "balance_alerts", "alert_id", alert, values)
            return alert_view(self._row(c, customer, account, alert, 400))

    def delete(self, customer: str, account: str, alert: str) -> dict[str, Any]:
        with self.store.tx() as c:
            self._row(c, customer, account, alert, 400)
            c.execute("DELETE FROM balance_alerts WHERE alert_id=?", (alert,))
        return {"balanceAlertID": alert, "status": "DELETED"}

    def list(self, customer: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        """Pages of ``elementsPerBlock`` (default 10), ``page`` counted from 0; filtered by
        display name and threshold."""
        size = page_bounds(params.get("elementsPerBlock"), 10, 100)
        number = int(params.get("page") or 0)
        with self.store.tx() as c:
            self._account(c, customer, account)
            rows = c.execute(
                "SELECT * FROM balance_alerts WHERE account_identifier=? ORDER BY created_at, "
                "alert_id",
                (account,),
            ).fetchall()
        name = params.get("balanceAlertDisplayName")
        threshold = params.get("balanceAlertThreshold")
        rows = [
            r
            for r in rows
            if (not name or r["display_name"] == name)
            and (not threshold or Decimal(r["threshold"]) == Decimal(threshold))
        ]
        shown = rows[number * size : (number + 1) * size]
        return {
            "page": {
                "size": size,
                "totalElements": len(rows),
                "totalPages": math.ceil(len(rows) / size),
                "number": number,
            },
            "lowBalanceAlerts": [alert_view(r) for r in shown],
        }
