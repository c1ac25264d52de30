"""The ledger: what was planned, sent and settled, behind a database URL.

SQLite by default, PostgreSQL when configured (SQLAlchemy Core, one schema for both). It is
written *before* each submission (the order's exact request body is stored, so a rerun
re-sends byte-identical orders) and after each answer. A line item belongs to the first
batch that claims it: claims are ``INSERT ... ON CONFLICT DO NOTHING`` on
``(account, externalRefLineItemID)`` inside one transaction, so two runs can never both own
a line, whatever their timing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

metadata = MetaData()

batches = Table(
    "batches",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("account_identifier", String(100), nullable=False),
    Column("customer_identifier", String(100), nullable=False),
    Column("source_name", Text, nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
)
orders = Table(
    "orders",
    metadata,
    Column("external_ref_id", String(100), primary_key=True),
    Column("batch_id", String(40), nullable=False, index=True),
    Column("chunk_index", Integer, nullable=False),
    Column("account_identifier", String(100), nullable=False),
    Column("customer_identifier", String(100), nullable=False),
    Column("request_json", Text, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("state", String(20), nullable=False),  # planned, accepted, final, rejected
    Column("http_code", Integer),
    Column("reference_order_id", String(60)),
    Column("order_status", String(20)),
    Column("charged_total", String(20)),
    Column("error", Text),
    Column("planned_at", String(40), nullable=False),
    Column("accepted_at", String(40)),
    Column("completed_at", String(40)),
)
line_items = Table(
    "line_items",
    metadata,
    Column("account_identifier", String(100), primary_key=True),
    Column("external_ref_line_item_id", String(100), primary_key=True),
    Column("batch_id", String(40), nullable=False, index=True),
    Column("external_ref_id", String(100), nullable=False, index=True),
    Column("row_number", Integer, nullable=False),
    Column("amount", String(20), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(20), nullable=False),  # planned, submitted, rejected
    Column("line_item_status", String(20)),
    Column("delivery_status", String(20)),
    Column("reference_line_item_id", String(60)),
    Column("scheduled_delivery_date", String(40)),
    Column("charged", String(20)),
    Column("error", Text),
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Owner:
    """Who holds a line item already: enough to say "already sent, in ... on ..."."""

    batch_id: str
    external_ref_id: str
    source_name: str
    created_at: str
    state: str
    line_item_status: str | None


@dataclass(frozen=True)
class PlannedOrder:
    external_ref_id: str
    chunk_index: int
    body: dict[str, Any]

    @property
    def line_ids(self) -> list[str]:
        return [li["externalRefLineItemID"] for li in self.body["lineItems"]]


def _batched(items: Sequence[Any], size: int = 5000) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Ledger:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        create_tables(metadata, self.engine)

    def __repr__(self) -> str:
        return f"Ledger({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    def _insert(self, table: Table) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    # --- reading ------------------------------------------------------------------------

    def owners(self, account: str, line_ids: Sequence[str]) -> dict[str, Owner]:
        out: dict[str, Owner] = {}
        with self.engine.connect() as conn:
            for part in _batched(list(line_ids)):
                rows = conn.execute(
                    select(
                        line_items.c.external_ref_line_item_id,
                        line_items.c.batch_id,
                        line_items.c.external_ref_id,
                        line_items.c.state,
                        line_items.c.line_item_status,
                        batches.c.source_name,
                        batches.c.created_at,
                    )
                    .join(batches, batches.c.batch_id == line_items.c.batch_id)
                    .where(
                        line_items.c.account_identifier == account,
                        line_items.c.external_ref_line_item_id.in_(part),
                    )
                )
                for r in rows:
                    out[r.external_ref_line_item_id] = Owner(
                        r.batch_id,
                        r.external_ref_id,
                        r.source_name,
                        r.created_at,
                        r.state,
                        r.line_item_status,
                    )
        return out

    def batch_orders(self, batch: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(orders).where(orders.c.batch_id == batch).order_by(orders.c.chunk_index)
            )
            return [dict(r._mapping) for r in rows]

    def order(self, external_ref_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(orders).where(orders.c.external_ref_id == external_ref_id)
            ).first()
            return dict(row._mapping) if row else None

    def batch_lines(self, batch: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(line_items).where(line_items.c.batch_id == batch))
            return [dict(r._mapping) for r in rows]

    # --- writing ------------------------------------------------------------------------

    def claim(
        self,
        *,
        batch: str,
        account: str,
        customer: str,
        source_name: str,
        source_sha256: str,
        planned: list[PlannedOrder],
        rows: dict[str, tuple[int, str, str]],
    ) -> list[PlannedOrder]:
        """Claim the planned orders' lines for ``batch`` and record the orders, atomically.

        ``rows`` maps a line id to (row number, amount, currency). Lines another batch claimed
        first are dropped from the orders; orders left empty are not recorded. Returns the
        orders as recorded."""
        stamp = now()
        with self.engine.begin() as conn:
            conn.execute(
                self._insert(batches)
                .values(
                    batch_id=batch,
                    account_identifier=account,
                    customer_identifier=customer,
                    source_name=source_name,
                    source_sha256=source_sha256,
                    created_at=stamp,
                )
                .on_conflict_do_nothing()
            )
            values = [
                {
                    "account_identifier": account,
                    "external_ref_line_item_id": lid,
                    "batch_id": batch,
                    "external_ref_id": o.external_ref_id,
                    "row_number": rows[lid][0],
                    "amount": rows[lid][1],
                    "currency": rows[lid][2],
                    "state": "planned",
                }
                for o in planned
                for lid in o.line_ids
            ]
            for part in _batched(values):
                conn.execute(self._insert(line_items).on_conflict_do_nothing(), list(part))
            recorded: list[PlannedOrder] = []
            for o in planned:
                mine = set(self._owned_by(conn, account, o, batch))
                lines = [li for li in o.body["lineItems"] if li["externalRefLineItemID"] in mine]
                if not lines:
                    continue
                body = {**o.body, "lineItems": lines}
                conn.execute(
                    self._insert(orders)
                    .values(
                        external_ref_id=o.external_ref_id,
                        batch_id=batch,
                        chunk_index=o.chunk_index,
                        account_identifier=account,
                        customer_identifier=customer,
                        request_json=json.dumps(body, separators=(",", ":")),
                        line_count=len(lines),
                        state="planned",
                        planned_at=stamp,
                    )
                    .on_conflict_do_nothing()
                )
                recorded.append(PlannedOrder(o.external_ref_id, o.chunk_index, body))
            return recorded

    @staticmethod
    def _owned_by(conn: Connection, account: str, o: PlannedOrder, batch: str) -> Iterable[str]:
        rows = conn.execute(
            select(line_items.c.external_ref_line_item_id).where(
                line_items.c.account_identifier == account,
                line_items.c.external_ref_id == o.external_ref_id,
                line_items.c.batch_id == batch,
            )
        )
        return (r[0] for r in rows)

    def record_acceptance(
        self, external_ref_id: str, http_code: int, failed: dict[str, str]
    ) -> None:
        """Tango took the order (202 new, 200 known); ``failed`` = line id -> reason for the
        lines it rejected at submission."""
        with self.engine.begin() as conn:
            conn.execute(
                update(orders)
                .where(orders.c.external_ref_id == external_ref_id)
                .where(orders.c.state == "planned")
                .values(state="accepted", http_code=http_code, accepted_at=now())
            )
            conn.execute(
                update(line_items)
                .where(line_items.c.external_ref_id == external_ref_id)
                .where(line_items.c.state == "planned")
                .values(state="submitted")
            )
            for lid, reason in failed.items():
                conn.execute(
                    update(line_items)
                    .where(line_items.c.external_ref_id == external_ref_id)
                    .where(line_items.c.external_ref_line_item_id == lid)
                    .values(state="rejected", line_item_status="FAILED", error=reason, charged="0")
                )

    def record_rejection(self, external_ref_id: str, http_code: int, error: str) -> None:
        """Tango refused the whole order (400): nothing of it exists at Tango."""
        with self.engine.begin() as conn:
            conn.execute(
                update(orders)
                .where(orders.c.external_ref_id == external_ref_id)
                .values(state="rejected", http_code=http_code, error=error)
            )
            conn.execute(
                update(line_items)
                .where(line_items.c.external_ref_id == external_ref_id)
                .values(state="rejected", line_item_status="FAILED", error=error, charged="0")
            )

    def record_status(
        self,
        external_ref_id: str,
        order_status: str,
        reference_order_id: str | None,
        charged_total: str | None,
        lines: list[dict[str, Any]],
        final: bool,
    ) -> None:
        """The order's status and each line's, as the summary endpoint reported them."""
        with self.engine.begin() as conn:
            conn.execute(
                update(orders)
                .where(orders.c.external_ref_id == external_ref_id)
                .values(
                    order_status=order_status,
                    reference_order_id=reference_order_id,
                    charged_total=charged_total,
                    state="final" if final else "accepted",
                    completed_at=now() if final else None,
                )
            )
            for part in _batched(lines, 1000):
                for li in part:
                    conn.execute(
                        update(line_items)
                        .where(line_items.c.external_ref_id == external_ref_id)
                        .where(line_items.c.external_ref_line_item_id == li["id"])
                        .values(
                            line_item_status=li["status"],
                            delivery_status=li["delivery"],
                            reference_line_item_id=li["reference"],
                            charged=li["charged"],
                            scheduled_delivery_date=li["scheduled"],
                            error=li["error"],
                        )
                    )


def create_tables(schema: MetaData, engine: Engine) -> None:
    """Create what is missing, table by table. Several workers may start at once: losing a
    CREATE race on a table is fine when the table is there afterwards."""
    for table in schema.sorted_tables:
        try:
            table.create(engine, checkfirst=True)
        except (OperationalError, ProgrammingError, IntegrityError):
            if not inspect(engine).has_table(table.name):
                raise


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
