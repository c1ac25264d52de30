"""How an account's balance moves: :func:`credit` (refunds, funding), and :class:`Money`'s debit
and charge, which announce a ``LowBalance`` event when a debit takes the balance below one of
the account's alerts."""

from __future__ import annotations

from decimal import Decimal
from sqlite3 import Connection

from .errors import ApiError
from .events import Events
from .wire import field_error


def credit(c: Connection, account: str, amount: Decimal) -> None:
    """Add ``amount`` (negative to debit) to the account's balance, inside the caller's tx."""
    bal = c.execute(
        "SELECT balance FROM accounts WHERE account_identifier=?", (account,)
    ).fetchone()["balance"]
    c.execute(
        "UPDATE accounts SET balance=? WHERE account_identifier=?",
        (str(Decimal(bal) + amount), account),
    )


def balance_of(c: Connection, account: str) -> Decimal:
    row = c.execute(
        "SELECT balance FROM accounts WHERE account_identifier=?", (account,)
    ).fetchone()
    return Decimal(row["balance"])


class Money:
    def __init__(self, events: Events) -> None:
        self.events = events

    def debit(self, c: Connection, account: str, amount: Decimal) -> None:
        before = balance_of(c, account)
        credit(c, account, -amount)
        self._crossed(c, account, before, before - amount)

    def charge(
        self, c: Connection, account: str, cost: Decimal, currency: str, status: int
    ) -> None:
        """Debit ``cost``, or refuse with ``status`` (``errors[]`` code ``INSUFFICIENT_FUNDS``)
        when the balance does not cover it; the caller's transaction then changes nothing."""
        have = balance_of(c, account)
        if cost > have:
            raise ApiError(
                status,
                f"Insufficient funds: this costs {cost} {currency}, the balance is {have} {currency}",
                [field_error("amount", "INSUFFICIENT_FUNDS", f"the balance is {have} {currency}")],
            )
        self.debit(c, account, cost)

    def _crossed(self, c: Connection, account: str, before: Decimal, after: Decimal) -> None:
        """``LowBalance`` for each alert whose threshold the balance just went below."""
        alerts = c.execute(
            "SELECT alert_id, threshold FROM balance_alerts WHERE account_identifier=?",
            (account,),
        ).fetchall()
        crossed = [
            {
                "accountIdentifier": account,
                "balance": float(after),
                "balanceThreshold": float(Decimal(a["threshold"])),
                "balanceAlertIdentifier": a["alert_id"],
            }
            for a in alerts
            if after < Decimal(a["threshold"]) <= before
        ]
        self.events.to_subscribers(c, "LowBalance", crossed)
