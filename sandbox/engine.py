"""The sandbox's behaviour, free of HTTP: the parts that make up a Tango, wired together.

Each part is a module of its own: ``accounts``, ``alerts``, ``money``; ``orders``,
``order_reads``, ``fulfilment``; ``lines``, ``redelivery``, ``line_updates``, ``line_reads``;
``subscriptions``, ``events``, ``deliveries``; ``auth``, ``faults``. The engine builds them on
one store and keeps the few entry points tests and tools reach for (``store``,
``get_account``, ``fund_account``, ``requests_seen``, ``stats``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from raas._models import Catalog

from .accounts import Accounts
from .alerts import Alerts
from .auth import Auth
from .config import SandboxConfig
from .deliveries import Deliveries
from .events import Events
from .faults import FaultInjector, Faults
from .fulfilment import Fulfilment
from .gate import Traffic
from .line_reads import LineReads
from .line_updates import LineUpdates
from .lines import Lines
from .money import Money
from .order_reads import OrderReads
from .orders import Orders
from .redelivery import Redelivery
from .store import Store
from .subscriptions import Subscriptions


class Engine:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config.db_path)
        self.catalog = Catalog.model_validate(
            json.loads((config.seed_dir / "catalog.json").read_text())
        )
        self.dice = FaultInjector(config)
        self.traffic = Traffic()
        self.auth = Auth(config, self.store)
        self.events = Events(self.dice)
        self.accounts = Accounts(config, self.store)
        self.alerts = Alerts(self.store)
        self.money = Money(self.events)
        self.orders = Orders(config, self.store, self.catalog, self.events, self.money)
        self.order_reads = OrderReads(self.store, self.catalog)
        self.fulfilment = Fulfilment(config, self.store, self.catalog, self.events)
        self.lines = Lines(self.store, self.fulfilment, self.events)
        self.redelivery = Redelivery(
            config, self.store, self.catalog, self.events, self.fulfilment, self.lines, self.money
        )
        self.line_reads = LineReads(self.store, self.catalog)
        self.line_updates = LineUpdates(self.store, self.catalog, self.order_reads)
        self.subscriptions = Subscriptions(config, self.store, self.events)
        self.deliveries = Deliveries(config, self.store, self.dice)
        self.accounts.seed()

    # --- entry points used by tests, benchmarks and proofs ---------------------------------

    @property
    def requests_seen(self) -> int:
        """API requests received (benchmarks, rate-limit checks)."""
        return self.traffic.received

    @property
    def rate_limited(self) -> int:
        return self.traffic.rate_limited

    def get_account(self, account: str) -> dict[str, Any]:
        return self.accounts.get_account(account)

    def fund_account(self, account: str, amount: Decimal) -> dict[str, Any]:
        return self.accounts.fund_account(account, amount)

    def set_faults(self, faults: Faults) -> None:
        self.dice.set(faults)

    def process_due(self, limit: int = 2000) -> int:
        return self.fulfilment.process_due(limit)

    def deliver_due(self, http: httpx.Client, limit: int = 100) -> int:
        return self.deliveries.deliver_due(http, limit)

    def busiest_window(self, seconds: float) -> int:
        return self.traffic.busiest_window(seconds)

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
