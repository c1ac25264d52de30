"""The ledger: what was planned, sent and settled, behind a database URL.

SQLite by default, PostgreSQL when configured (SQLAlchemy Core, one schema for both). It is
written *before* each submission (the order's exact request body is stored, so a rerun
re-sends byte-identical orders) and after each answer.

Exactly once, and at least once
-------------------------------
A line item (``externalRefLineItemID``, derived from its content) belongs to one batch at a
time: claims are ``INSERT ... ON CONFLICT`` on ``(account, line id)`` inside one transaction,
so two runs never both hold a line. Only an order that Tango has (accepted, or found by a GET
on its ``externalRefID``) makes its lines count as sent. An order that never reached Tango
holds its lines only while its batch's **lease** is alive:

- A run takes its batch's lease when it records the orders (``claim``), renews it while it
  sends (:class:`LeaseKeeper`) and lets it go at the end. A new run of the same batch takes the
  lease over at once: it re-sends the same ``externalRefID`` s, which Tango answers with the
  originals, so two runs of one batch can never make two orders.
- A run POSTs an order only after :meth:`Ledger.may_submit` saw, on the database's clock, the
  order still ``planned`` and its lease held by this run (token and epoch) for at least
  ``margin`` more seconds, where ``margin`` exceeds the longest an attempt can take to reach
  Tango (connect + write timeouts). It checks before *every* attempt, retries included.
- Another batch takes lines over only from an order whose lease has **expired**, and then
  only after Tango answered 404 for that ``externalRefID``, by a compare-and-set
  (:meth:`Ledger.void`): the order becomes ``void`` only if it is still ``planned`` and the
  lease still has the epoch and the expiry seen *before* the GET. Its lines are released and
  can be claimed again.

Why that is safe: every POST of the order started before the lease expired (it was checked
with ``margin`` to spare), so it reached Tango before the expiry, or, if a network queue held
it after the client gave up, within the ``grace`` that the taker waits on top of the expiry
(``REWARDS_TAKEOVER_GRACE_SECONDS``) before its GET; a 404 then means it never will. That
grace is the one assumption about the network, so it is also checked afterwards: a run GETs
the orders it made void once more after it has sent, and an order that reached Tango anyway
is reported loudly (the books do not balance, the rows sent twice are named), never silently. A POST after the expiry needs the lease again, and taking it bumps the
epoch, which makes the compare-and-set fail. A void order is never POSTed (``may_submit``
requires ``planned``). If Tango does have the order (committed, then the process died before
the ledger heard), the GET finds it and the lines count as sent. Renewal fails once a lease
has expired, so a stalled run cannot extend a lease someone may already be acting on.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from .columns import IDENTITY_VERSION
from .errors import LedgerIdentityError

# 2: batch leases, void orders, released lines, the audit trail; 3: recipients; 4: actions on
# sent lines, the charge of lines Tango added to an order (reissues)
SCHEMA_VERSION = 4

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
    Column("lease_token", String(40)),
    Column("lease_epoch", Integer, nullable=False, server_default="0"),
    Column("lease_expires", Float, nullable=False, server_default="0"),  # database clock
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
    Column("state", String(20), nullable=False),  # OrderState
    Column("http_code", Integer),
    Column("reference_order_id", String(60)),
    Column("order_status", String(20)),
    Column("charged_total", String(20)),
    Column("error", Text),
    Column("planned_at", String(40), nullable=False),
    Column("accepted_at", String(40)),
    Column("completed_at", String(40)),
    Column("sent_by", String(64)),  # the run whose POST Tango accepted (a Prefect flow run id)
    # what Tango charged for lines it added to the order after it was placed (a reissue's
    # replacement is a new line of the same order): not the charge of any row of the file
    Column("replacements_charged", String(20)),
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
    Column("state", String(20), nullable=False),  # LineState
    Column("line_item_status", String(20)),
    Column("delivery_status", String(20)),
    Column("reference_line_item_id", String(60)),
    Column("scheduled_delivery_date", String(40)),
    Column("charged", String(20)),
    Column("error", Text),
    # the line without the recipient's name (identity.recipient_keys): a renamed recipient
    Column("recipient_key", String(40)),
    Index("line_items_by_recipient", "account_identifier", "recipient_key"),
)
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(40), nullable=False, index=True),
    Column("at", String(40), nullable=False),
    Column("kind", String(40), nullable=False),  # approved, rejected, void, ...
    Column("actor", Text),
    Column("detail", Text),
)
actions = Table(  # what was done to lines after they were sent (rewards.actions)
    "actions",
    metadata,
    Column("action_id", String(40), primary_key=True),  # rewards.identity.action_id
    Column("account_identifier", String(100), nullable=False),
    Column("batch_id", String(40), nullable=False, index=True),  # the run of actions (last)
    Column("action", String(20), nullable=False),
    Column("reference_line_item_id", String(60), nullable=False, index=True),
    Column("external_ref_line_item_id", String(100)),
    Column("request_json", Text, nullable=False),  # the new values and the reason
    Column("state", String(20), nullable=False),  # ActionState
    Column("seen_before", Text),  # the line at Tango when planned: resends, replacement
    Column("answer", Text),  # Tango's answer, or why it refused
    Column("http_code", Integer),
    Column("source_name", Text),
    Column("run_id", String(64)),  # the run that did it (a Prefect flow run id)
    Column("approver", Text),
    Column("planned_at", String(40), nullable=False),
    Column("done_at", String(40)),
    Column("attempt_until", Float),  # database clock: the run attempting it holds it till then
)
# How an action's answer names a reissue's replacement: the report follows the chain by it.
REPLACED = re.compile(r"\breissued as line (\S+)")


def reissued_as(reference_line_item_id: str) -> str:
    """The answer of a reissue, as the ledger keeps it (see :data:`REPLACED`)."""
    return f"reissued as line {reference_line_item_id}"


ledger_meta = Table(
    "ledger_meta",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)


class OrderState(StrEnum):
    PLANNED = "planned"  # recorded; Tango has not confirmed it
    ACCEPTED = "accepted"  # Tango has it (202 new, 200 known, or found by a GET)
    FINAL = "final"  # Tango says it is finished (COMPLETE, PARTIAL, FAILED, CANCELLED)
    REJECTED = "rejected"  # Tango refused the whole order (400): it does not exist there
    VOID = "void"  # never reached Tango and never will: its lease expired, Tango said 404

    @property
    def at_tango(self) -> bool:
        return self in (OrderState.ACCEPTED, OrderState.FINAL)

    @property
    def answered(self) -> bool:
        """Tango has said what became of it: it has it, or it refused it."""
        return self.at_tango or self is OrderState.REJECTED


class LineState(StrEnum):
    PLANNED = "planned"
    SUBMITTED = "submitted"  # in an order Tango has
    REJECTED = "rejected"  # refused by Tango, at submission or with its order
    RELEASED = "released"  # its order was void: free for the next batch that contains it


# lines nobody holds: void orders' (never at Tango), and those Tango refused (not at Tango)
FREE_LINES = (LineState.RELEASED, LineState.REJECTED)


class ActionState(StrEnum):
    PLANNED = "planned"  # recorded before the call; what became of it is not known yet
    DONE = "done"  # Tango did it (or an earlier attempt was found to have done it)
    REFUSED = "refused"  # Tango refused it: nothing changed there


@dataclass(frozen=True)
class ActionRow:
    action_id: str
    account_identifier: str
    batch_id: str
    action: str
    reference_line_item_id: str
    external_ref_line_item_id: str | None
    request_json: str
    state: ActionState
    seen_before: str | None = None
    answer: str | None = None
    http_code: int | None = None
    source_name: str | None = None
    run_id: str | None = None
    approver: str | None = None
    planned_at: str = ""
    done_at: str | None = None
    attempt_until: float | None = None

    @property
    def before(self) -> dict[str, Any]:
        seen: dict[str, Any] = json.loads(self.seen_before or "{}")
        return seen


def _action_row(r: Any) -> ActionRow:
    values = dict(r._mapping)
    values["state"] = ActionState(values["state"])
    return ActionRow(**values)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class OrderRow:
    external_ref_id: str
    batch_id: str
    chunk_index: int
    account_identifier: str
    customer_identifier: str
    request_json: str | None  # None: not read (a batch's orders; the request is the bulk of it)
    line_count: int
    state: OrderState
    http_code: int | None = None
    reference_order_id: str | None = None
    order_status: str | None = None
    charged_total: str | None = None
    error: str | None = None
    planned_at: str = ""
    accepted_at: str | None = None
    completed_at: str | None = None
    sent_by: str | None = None
    replacements_charged: str | None = None

    @property
    def body(self) -> dict[str, Any]:
        assert self.request_json is not None, "read with Ledger.order"
        body: dict[str, Any] = json.loads(self.request_json)
        return body


@dataclass(frozen=True, slots=True)
class LineRow:
    account_identifier: str
    external_ref_line_item_id: str
    batch_id: str
    external_ref_id: str
    row_number: int
    amount: str
    currency: str
    state: LineState
    line_item_status: str | None = None
    delivery_status: str | None = None
    reference_line_item_id: str | None = None
    scheduled_delivery_date: str | None = None
    charged: str | None = None
    error: str | None = None
    recipient_key: str | None = None


@dataclass(frozen=True)
class LineStatus:
    """One line as Tango's order summary reports it."""

    line_id: str
    status: str | None
    delivery: str | None
    reference: str | None
    charged: Decimal
    scheduled: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Holder:
    """Which batch holds a line, how far it got, and whether that batch's run is alive."""

    line_id: str
    batch_id: str
    external_ref_id: str
    source_name: str
    created_at: str
    line_state: LineState
    order_state: OrderState
    line_item_status: str | None
    lease_epoch: int
    lease_expires: float
    seen_at: float  # the database's clock when this was read
    recipient_key: str | None = None
    renamed: bool = False  # the line held is another one: the same reward and contact, other name

    @property
    def lease_live(self) -> bool:
        return self.lease_expires > self.seen_at

    def lease_gone_for(self, seconds: float) -> bool:
        """The lease expired at least ``seconds`` ago (when this was read)."""
        return self.seen_at - self.lease_expires >= seconds

    @property
    def sent(self) -> bool:
        """Tango has the line: it counts as sent (a line it refused is free, not sent)."""
        return self.order_state.at_tango and not self.free

    @property
    def free(self) -> bool:
        """Nobody holds the line: its order was void, or Tango refused it (a 400 creates
        nothing at Tango, so sending it again can never make a second reward)."""
        return self.line_state in FREE_LINES

    @property
    def status(self) -> str:
        if self.line_state is LineState.REJECTED or self.order_state is OrderState.REJECTED:
            return "refused by Tango"
        return self.line_item_status or ("at Tango" if self.sent else "not yet at Tango")


@dataclass(frozen=True)
class PlannedOrder:
    """An order's request as compact JSON text: a run holds every planned order until it is
    recorded, and a line as text takes a fifth of the memory it takes as dicts."""

    external_ref_id: str
    chunk_index: int
    request_json: str
    line_ids: tuple[str, ...]

    @classmethod
    def of(cls, external_ref_id: str, chunk_index: int, body: dict[str, Any]) -> PlannedOrder:
        ids = tuple(li["externalRefLineItemID"] for li in body["lineItems"])
        text = json.dumps(body, separators=(",", ":"))
        return cls(external_ref_id, chunk_index, text, ids)

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.request_json)
        return parsed


@dataclass(frozen=True)
class Lease:
    """A run's hold on its batch's unsent orders; ``expires`` is on the database's clock."""

    batch_id: str
    token: str
    epoch: int
    expires: float


class LeaseLostError(Exception):
    """This run no longer holds its batch's lease with time to spare: it must not POST."""


@dataclass(frozen=True)
class ClaimedOrder:
    """An order the claim recorded, and its lines (its request is in the ledger)."""

    external_ref_id: str
    line_ids: tuple[str, ...]


@dataclass(frozen=True)
class Claimed:
    orders: list[ClaimedOrder]
    lease: Lease


TEXT = pd.ArrowDtype(pa.large_string())
# what a report needs of a batch's lines (Ledger.line_table) and of who holds each line
LINE_COLUMNS = (
    "external_ref_line_item_id",
    "state",
    "line_item_status",
    "delivery_status",
    "reference_line_item_id",
    "scheduled_delivery_date",
    "charged",
    "error",
)
HOLDER_COLUMNS = (
    "line_id",
    "batch_id",
    "external_ref_id",
    "source_name",
    "created_at",
    "line_state",
    "order_state",
    "line_item_status",
    "lease_expires",
)


def _table(columns: Sequence[Sequence[Any]], names: Sequence[str]) -> pd.DataFrame:
    """Text columns as Arrow strings (None stays missing); other columns as numpy."""
    out: dict[str, Any] = {}
    for name, values in zip(names, columns, strict=True):
        if name == "lease_expires":
            out[name] = np.asarray(values, dtype=np.float64)
        else:
            out[name] = pd.array(pa.array(values, pa.large_string()), dtype=TEXT)
    return pd.DataFrame(out, copy=False)


def _held_frame(rows: Sequence[Any], clock: float, renamed: bool = False) -> pd.DataFrame:
    """Rows of :meth:`Ledger._held_rows` as a holder table, seen at ``clock``."""
    names = HOLDER_COLUMNS
    fields = (
        "external_ref_line_item_id",
        "batch_id",
        "external_ref_id",
        "source_name",
        "created_at",
        "state",
        "order_state",
        "line_item_status",
        "lease_expires",
    )
    columns = [[getattr(r, f) for r in rows] for f in fields]
    frame = _table(columns, names)
    frame["seen_at"] = clock
    frame["renamed"] = renamed
    return frame


PART = 5000  # rows a statement carries
# what a claim records of each line (rewards.planning.NEW_LINE_COLUMNS adds the order's place)
CLAIMED_COLUMNS = (
    "line_id",
    "external_ref_id",
    "row_number",
    "amount",
    "currency",
    "recipient_key",
)


def _batched(items: Iterable[Any], size: int = PART) -> Iterator[list[Any]]:
    """``size`` items at a time (a statement's parameters; items made one at a time stay so)."""
    it = iter(items)
    while part := list(itertools.islice(it, size)):
        yield part


def _order_row(r: Any) -> OrderRow:
    values = {"request_json": None, **r._mapping}
    values["state"] = OrderState(values["state"])
    return OrderRow(**values)


# Texts that many rows of a read share (their batch, order, source file, status): one copy
# each, not one per row: a report step holds a row object per line.
_SHARED = (
    *("account_identifier", "batch_id", "external_ref_id", "source_name", "created_at"),
    *("line_item_status", "delivery_status", "currency", "amount", "charged"),
)


def _shared(values: dict[str, Any]) -> dict[str, Any]:
    for name in _SHARED:
        if type(value := values.get(name)) is str:
            values[name] = sys.intern(value)
    return values


def _line_row(r: Any) -> LineRow:
    values = _shared(dict(r._mapping))
    values["state"] = LineState(values["state"])
    return LineRow(**values)


class Ledger:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        create_tables(metadata, self.engine)
        _check_identity(self.engine, repr(self))
        _migrate(self.engine)

    def __repr__(self) -> str:
        return f"Ledger({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    def _insert(self, table: Table) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def _clock(self, conn: Connection) -> float:
        """Seconds since the epoch on the database's clock: one clock for every worker."""
        if self.engine.dialect.name == "postgresql":
            query = "SELECT EXTRACT(EPOCH FROM clock_timestamp())"
        else:
            query = "SELECT (julianday('now') - 2440587.5) * 86400.0"
        return float(conn.execute(text(query)).scalar_one())

    # --- reading ------------------------------------------------------------------------

    def holders(
        self,
        account: str,
        line_ids: Sequence[str],
        recipients: Mapping[str, str | None] | None = None,
    ) -> dict[str, Holder]:
        """Who holds each line. With ``recipients`` (line id -> recipient key, see
        :func:`rewards.identity.recipient_keys`), a line nobody holds is held by another line
        of the same reward to the same contact under another name (``renamed``), unless that
        line was freed or Tango refused it: a corrected spelling is not a second reward."""
        out: dict[str, Holder] = {}
        with self.engine.connect() as conn:
            clock = self._clock(conn)
            for part in _batched(list(line_ids)):
                where = line_items.c.external_ref_line_item_id.in_(part)
                for lid, holder in self._held(conn, account, where, clock):
                    out[lid] = holder
            wanted: dict[str, list[str]] = {}
            for lid, key in (recipients or {}).items():
                if key and (lid not in out or out[lid].free):
                    wanted.setdefault(key, []).append(lid)
            for part in _batched(list(wanted)):
                same = line_items.c.recipient_key.in_(part) & line_items.c.state.not_in(FREE_LINES)
                for _, holder in self._held(conn, account, same, clock):
                    if holder.order_state in (OrderState.VOID, OrderState.REJECTED):
                        continue
                    for lid in wanted.pop(holder.recipient_key or "", []):
                        out[lid] = replace(holder, renamed=True)
        return out

    def holder_table(
        self,
        account: str,
        line_ids: Sequence[str],
        recipients: Sequence[str | None] | None = None,
    ) -> pd.DataFrame:
        """:meth:`holders` for many lines, as a table (one row per line held, the columns of
        :data:`HOLDER_COLUMNS`): read part by part into Arrow columns, no object per line.
        ``recipients``: each line's recipient key, in the order of ``line_ids`` (a column of
        the plan; a dict of a million lines to their keys was a quarter of a gigabyte)."""
        parts: list[pd.DataFrame] = []
        wanted: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            clock = self._clock(conn)
            for start in range(0, len(line_ids), PART):
                part = list(line_ids[start : start + PART])
                rows = self._held_rows(
                    conn, account, line_items.c.external_ref_line_item_id.in_(part)
                )
                found = _held_frame(rows, clock)
                parts.append(found)
                if recipients is not None:
                    taken = set(found.loc[~found["line_state"].isin(FREE_LINES), "line_id"])
                    keys = recipients[start : start + PART]
                    for lid, key in zip(part, keys, strict=True):
                        if isinstance(key, str) and key and lid not in taken:
                            wanted.setdefault(key, []).append(lid)
            renamed: list[tuple[str, Any]] = []
            for part in _batched(list(wanted)):
                same = line_items.c.recipient_key.in_(part) & line_items.c.state.not_in(FREE_LINES)
                for r in self._held_rows(conn, account, same):
                    if r.order_state in (OrderState.VOID, OrderState.REJECTED):
                        continue
                    renamed += [(lid, r) for lid in wanted.pop(r.recipient_key or "", [])]
        if renamed:  # each line taken as held by the line of its contact under another name
            again = _held_frame([r for _, r in renamed], clock, renamed=True)
            again["line_id"] = pd.array([lid for lid, _ in renamed], dtype=TEXT)
            ids = set(again["line_id"])
            parts = [p[~p["line_id"].isin(ids)] for p in parts] + [again]
        if not parts:
            return _held_frame([], clock)
        return pd.concat(parts, ignore_index=True)

    @staticmethod
    def _held_rows(conn: Connection, account: str, where: Any) -> list[Any]:
        return list(
            conn.execute(
                select(
                    line_items.c.external_ref_line_item_id,
                    line_items.c.batch_id,
                    line_items.c.external_ref_id,
                    line_items.c.state,
                    line_items.c.line_item_status,
                    line_items.c.recipient_key,
                    orders.c.state.label("order_state"),
                    batches.c.source_name,
                    batches.c.created_at,
                    batches.c.lease_epoch,
                    batches.c.lease_expires,
                )
                .join(batches, batches.c.batch_id == line_items.c.batch_id)
                .join(orders, orders.c.external_ref_id == line_items.c.external_ref_id)
                .where(line_items.c.account_identifier == account, where)
            )
        )

    @staticmethod
    def _held(
        conn: Connection, account: str, where: Any, clock: float
    ) -> Iterator[tuple[str, Holder]]:
        for r in Ledger._held_rows(conn, account, where):
            v = _shared(dict(r._mapping))
            yield (
                r.external_ref_line_item_id,
                Holder(
                    line_id=r.external_ref_line_item_id,
                    batch_id=v["batch_id"],
                    external_ref_id=v["external_ref_id"],
                    source_name=v["source_name"],
                    created_at=v["created_at"],
                    line_state=LineState(r.state),
                    order_state=OrderState(r.order_state),
                    line_item_status=v["line_item_status"],
                    lease_epoch=r.lease_epoch,
                    lease_expires=r.lease_expires,
                    seen_at=clock,
                    recipient_key=r.recipient_key,
                ),
            )

    def batch_orders(self, batch: str) -> list[OrderRow]:
        """The batch's orders, without their requests (a million rows' requests are a quarter
        of a gigabyte; a request is read with :meth:`order` when it is sent)."""
        picked = [c for c in orders.c if c.name != "request_json"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*picked).where(orders.c.batch_id == batch).order_by(orders.c.chunk_index)
            )
            return [_order_row(r) for r in rows]

    def order(self, external_ref_id: str) -> OrderRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(orders).where(orders.c.external_ref_id == external_ref_id)
            ).first()
            return _order_row(row) if row else None

    def line_table(self, batch: str) -> pd.DataFrame:
        """The batch's lines as a table (the columns of :data:`LINE_COLUMNS`), read part by
        part into Arrow columns: no object per line."""
        picked = select(*(line_items.c[name] for name in LINE_COLUMNS)).where(
            line_items.c.batch_id == batch
        )
        parts: list[pd.DataFrame] = []
        with self.engine.connect() as conn:
            for rows in conn.execute(picked).partitions(5000):
                parts.append(
                    _table(list(zip(*rows, strict=True)) or [[]] * len(LINE_COLUMNS), LINE_COLUMNS)
                )
        return (
            pd.concat(parts, ignore_index=True)
            if parts
            else _table([[]] * len(LINE_COLUMNS), LINE_COLUMNS)
        )

    def batch_lines(self, batch: str) -> list[LineRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(line_items).where(line_items.c.batch_id == batch))
            return [_line_row(r) for r in rows]

    def audit_trail(self, batch: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit).where(audit.c.batch_id == batch).order_by(audit.c.id))
            return [dict(r._mapping) for r in rows]

    def last_note_of_run(self, flow_run: str) -> dict[str, Any] | None:
        """The newest audit note whose detail names ``flow_run`` (``{"flow_run": id}``)."""
        named = json.dumps({"flow_run": flow_run})[1:-1]
        with self.engine.connect() as conn:
            row = conn.execute(
                select(audit).where(audit.c.detail.contains(named)).order_by(audit.c.id.desc())
            ).first()
        return dict(row._mapping) if row else None

    # --- claiming -----------------------------------------------------------------------

    def claim(
        self,
        *,
        batch: str,
        account: str,
        customer: str,
        source_name: str,
        source_sha256: str,
        planned: Iterable[PlannedOrder],
        lines: pd.DataFrame,
        lease_seconds: float,
    ) -> Claimed:
        """Take the batch's lease, claim the planned orders' lines and record the orders,
        atomically.

        ``planned`` may make its orders one at a time (each is recorded and dropped);
        ``lines`` has a row per line of ``planned``, the columns of
        :data:`rewards.planning.NEW_LINE_COLUMNS` (line id, order, row number, amount,
        currency, recipient key: see :meth:`holders`). A line is claimed when

        nobody holds it or its holder's order was void; lines another batch holds are dropped
        from the orders, and orders left empty are not recorded."""
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
            lease = self._take_lease(conn, batch, lease_seconds)
            for start in range(0, len(lines), PART):  # a million lines as dicts would not fit
                cells = lines.iloc[start : start + PART]
                part = [
                    {
                        "account_identifier": account,
                        "external_ref_line_item_id": lid,
                        "batch_id": batch,
                        "external_ref_id": ref,
                        "row_number": int(row),
                        "amount": amount,
                        "currency": currency,
                        "recipient_key": recipient,
                        "state": LineState.PLANNED,
                    }
                    for lid, ref, row, amount, currency, recipient in zip(
                        *(cells[c].to_numpy(object, na_value=None) for c in CLAIMED_COLUMNS),
                        strict=True,
                    )
                ]
                insert = self._insert(line_items)
                taken = {
                    c: getattr(insert.excluded, c)
                    for c in (
                        "batch_id",
                        "external_ref_id",
                        "row_number",
                        "amount",
                        "currency",
                        "recipient_key",
                    )
                }
                fresh = {
                    "state": LineState.PLANNED,
                    **dict.fromkeys(
                        ("line_item_status", "delivery_status", "reference_line_item_id"), None
                    ),
                    **dict.fromkeys(("scheduled_delivery_date", "charged", "error"), None),
                }
                conn.execute(
                    insert.on_conflict_do_update(
                        index_elements=["account_identifier", "external_ref_line_item_id"],
                        set_={**taken, **fresh},
                        # (no IN: an executemany cannot expand a list)
                        where=or_(*(line_items.c.state == s for s in FREE_LINES)),
                    ),
                    list(part),
                )
            recorded: list[ClaimedOrder] = []
            counts = self._owned_counts(conn, account, batch)
            # which lines, only when an order lost some to another batch (its ids: a million
            # rows' are 170 MB)
            sizes = lines["external_ref_id"].value_counts()
            short = any(0 < counts.get(str(ref), 0) < n for ref, n in sizes.items())
            owned = self._owned_by(conn, account, batch) if short else {}
            for o in planned:
                if not counts.get(o.external_ref_id):
                    continue
                if counts[o.external_ref_id] < len(o.line_ids):  # others' lines are left out
                    mine = owned[o.external_ref_id]
                    body = o.body
                    body["lineItems"] = [
                        li for li in body["lineItems"] if li["externalRefLineItemID"] in mine
                    ]
                    o = PlannedOrder.of(o.external_ref_id, o.chunk_index, body)
                conn.execute(
                    self._insert(orders)
                    .values(
                        external_ref_id=o.external_ref_id,
                        batch_id=batch,
                        chunk_index=o.chunk_index,
                        account_identifier=account,
                        customer_identifier=customer,
                        request_json=o.request_json,
                        line_count=len(o.line_ids),
                        state=OrderState.PLANNED,
                        planned_at=stamp,
                    )
                    .on_conflict_do_nothing()
                )
                recorded.append(ClaimedOrder(o.external_ref_id, o.line_ids))
            return Claimed(recorded, lease)

    @staticmethod
    def _owned_counts(conn: Connection, account: str, batch: str) -> dict[str, int]:
        """How many planned lines the batch holds in each of its orders (one pass)."""
        rows = conn.execute(
            select(line_items.c.external_ref_id, func.count())
            .where(
                line_items.c.account_identifier == account,
                line_items.c.batch_id == batch,
                line_items.c.state == LineState.PLANNED,
            )
            .group_by(line_items.c.external_ref_id)
        )
        return {ref: int(n) for ref, n in rows}

    @staticmethod
    def _owned_by(conn: Connection, account: str, batch: str) -> dict[str, set[str]]:
        """The batch's planned lines by order, in one pass over the batch: asked order by
        order, SQLite searched the batch's index (not the order's) each time, and claiming a
        million rows took quadratic time (10,000 orders x the batch's 1,000,000 lines)."""
        owned: dict[str, set[str]] = {}
        rows = conn.execute(
            select(line_items.c.external_ref_id, line_items.c.external_ref_line_item_id).where(
                line_items.c.account_identifier == account,
                line_items.c.batch_id == batch,
                line_items.c.state == LineState.PLANNED,
            )
        )
        for ref, line in rows:
            owned.setdefault(ref, set()).add(line)
        return owned

    # --- leases -------------------------------------------------------------------------

    def _take_lease(self, conn: Connection, batch: str, seconds: float) -> Lease:
        token, expires = uuid.uuid4().hex, self._clock(conn) + seconds
        conn.execute(
            update(batches)
            .where(batches.c.batch_id == batch)
            .values(lease_token=token, lease_epoch=batches.c.lease_epoch + 1, lease_expires=expires)
        )
        epoch = conn.execute(
            select(batches.c.lease_epoch).where(batches.c.batch_id == batch)
        ).scalar_one()
        return Lease(batch, token, epoch, expires)

    def renew(self, lease: Lease, seconds: float) -> Lease | None:
        """Extend a lease this run still holds and that has not expired; None otherwise."""
        with self.engine.begin() as conn:
            clock = self._clock(conn)
            expires = clock + seconds
            done = conn.execute(
                update(batches)
                .where(
                    batches.c.batch_id == lease.batch_id,
                    batches.c.lease_token == lease.token,
                    batches.c.lease_epoch == lease.epoch,
                    batches.c.lease_expires > clock,
                )
                .values(lease_expires=expires)
            ).rowcount
        return Lease(lease.batch_id, lease.token, lease.epoch, expires) if done else None

    def release(self, lease: Lease) -> None:
        """Let the lease go (the run ends): whatever it left unsent may be taken over."""
        with self.engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(
                    batches.c.batch_id == lease.batch_id,
                    batches.c.lease_token == lease.token,
                    batches.c.lease_epoch == lease.epoch,
                )
                .values(lease_expires=self._clock(conn))
            )

    def may_submit(self, external_ref_id: str, lease: Lease, margin: float) -> bool:
        """The order is still planned and ``lease`` holds for ``margin`` seconds more."""
        with self.engine.connect() as conn:
            clock = self._clock(conn)
            row = conn.execute(
                select(orders.c.state, batches.c.lease_token, batches.c.lease_epoch)
                .join(batches, batches.c.batch_id == orders.c.batch_id)
                .where(
                    orders.c.external_ref_id == external_ref_id,
                    batches.c.lease_expires >= clock + margin,
                )
            ).first()
        return (
            row is not None
            and row.state == OrderState.PLANNED
            and (row.lease_token, row.lease_epoch) == (lease.token, lease.epoch)
        )

    def void(self, external_ref_id: str, epoch: int, grace: float = 0.0) -> bool:
        """Compare-and-set: the order never reached Tango (it answered 404 once the lease had
        been expired for ``grace`` seconds) and is void, its lines released, only if it is
        still planned and its batch's lease still has ``epoch`` and expired that long ago.
        False when someone took it first."""
        with self.engine.begin() as conn:
            clock = self._clock(conn)
            owner = conn.execute(
                select(orders.c.batch_id).where(orders.c.external_ref_id == external_ref_id)
            ).scalar_one_or_none()
            lease_gone = (
                select(batches.c.batch_id)
                .where(
                    batches.c.batch_id == owner,
                    batches.c.lease_epoch == epoch,
                    batches.c.lease_expires <= clock - grace,
                )
                .exists()
            )
            done = conn.execute(
                update(orders)
                .where(
                    orders.c.external_ref_id == external_ref_id,
                    orders.c.state == OrderState.PLANNED,
                    lease_gone,
                )
                .values(state=OrderState.VOID, error="never reached Tango; its lines released")
            ).rowcount
            if not done:
                return False
            conn.execute(
                update(line_items)
                .where(
                    line_items.c.external_ref_id == external_ref_id,
                    line_items.c.state == LineState.PLANNED,
                )
                .values(state=LineState.RELEASED)
            )
            self._audit(conn, owner, "void", None, {"order": external_ref_id, "epoch": epoch})
            return True

    # --- answers from Tango ---------------------------------------------------------------

    def record_acceptance(
        self, external_ref_id: str, http_code: int, failed: dict[str, str], by: str | None = None
    ) -> None:
        """Tango took the order (202 new, 200 known); ``failed`` = line id -> reason for the
        lines it rejected at submission; ``by``: the run that sent it."""
        with self.engine.begin() as conn:
            conn.execute(
                update(orders)
                .where(orders.c.external_ref_id == external_ref_id)
                .where(orders.c.state == OrderState.PLANNED)
                .values(
                    state=OrderState.ACCEPTED, http_code=http_code, accepted_at=now(), sent_by=by
                )
            )
            conn.execute(
                update(line_items)
                .where(line_items.c.external_ref_id == external_ref_id)
                .where(line_items.c.state == LineState.PLANNED)
                .values(state=LineState.SUBMITTED)
            )
            for lid, reason in failed.items():
                conn.execute(
                    update(line_items)
                    .where(line_items.c.external_ref_id == external_ref_id)
                    .where(line_items.c.external_ref_line_item_id == lid)
                    .values(
                        state=LineState.REJECTED,
                        line_item_status="FAILED",
                        error=reason,
                        charged="0",
                    )
                )

    def record_rejection(self, external_ref_id: str, http_code: int, error: str) -> None:
        """Tango refused the whole order (400): nothing of it exists at Tango."""
        with self.engine.begin() as conn:
            conn.execute(
                update(orders)
                .where(orders.c.external_ref_id == external_ref_id)
                .values(state=OrderState.REJECTED, http_code=http_code, error=error)
            )
            conn.execute(
                update(line_items)
                .where(line_items.c.external_ref_id == external_ref_id)
                .values(
                    state=LineState.REJECTED, line_item_status="FAILED", error=error, charged="0"
                )
            )

    def record_status(
        self,
        external_ref_id: str,
        order_status: str,
        reference_order_id: str | None,
        charged_total: str | None,
        lines: list[LineStatus],
        final: bool,
    ) -> None:
        """The order's status and each line's, as the summary endpoint reported them (which
        also proves Tango has the order). Lines Tango lists beyond the ones placed (a
        reissue's replacements) are kept apart: their charge is ``replacements_charged``."""
        with self.engine.begin() as conn:
            placed = conn.execute(
                select(orders.c.line_count).where(orders.c.external_ref_id == external_ref_id)
            ).scalar_one_or_none()
            added = Decimal(0)
            if placed is not None and len(lines) > placed:  # only then: the usual order costs
                ours = set(
                    conn.execute(
                        select(line_items.c.external_ref_line_item_id).where(
                            line_items.c.external_ref_id == external_ref_id
                        )
                    ).scalars()
                )
                added = sum((li.charged for li in lines if li.line_id not in ours), Decimal(0))
            conn.execute(
                update(orders)
                .where(orders.c.external_ref_id == external_ref_id)
                .values(
                    order_status=order_status,
                    reference_order_id=reference_order_id,
                    charged_total=charged_total,
                    state=OrderState.FINAL if final else OrderState.ACCEPTED,
                    completed_at=now() if final else None,
                    replacements_charged=f"{added:.2f}" if added else None,
                )
            )
            conn.execute(
                update(line_items)
                .where(line_items.c.external_ref_id == external_ref_id)
                .where(line_items.c.state == LineState.PLANNED)
                .values(state=LineState.SUBMITTED)
            )
            if lines:  # one statement for all of them (executemany), not one per line
                self._note_failures(conn, external_ref_id, lines)
                conn.execute(_LINE_STATUS, [_status_values(external_ref_id, li) for li in lines])

    def _note_failures(
        self, conn: Connection, external_ref_id: str, lines: list[LineStatus]
    ) -> None:
        """A line whose delivery Tango now says failed, and did not before, goes in the audit
        trail with when the ledger heard it and why: a resend later makes Tango's line
        COMPLETE again, and the failure would be known no more (``rewards history``)."""
        failed = {li.line_id: li for li in lines if delivery_failed(li.status, li.delivery)}
        if not failed:
            return
        known = conn.execute(
            select(
                line_items.c.external_ref_line_item_id,
                line_items.c.batch_id,
                line_items.c.line_item_status,
                line_items.c.delivery_status,
            ).where(line_items.c.external_ref_id == external_ref_id)
        )
        for r in known:
            li = failed.get(r.external_ref_line_item_id)
            if li is None or delivery_failed(r.line_item_status, r.delivery_status):
                continue  # not failed now, or heard of before
            self._audit(
                conn,
                r.batch_id,
                "delivery_failed",
                None,
                {"line": li.line_id, "reference": li.reference, "reason": li.error},
            )

    # --- actions on sent lines -------------------------------------------------------------

    def plan_actions(self, batch: str, planned: list[dict[str, Any]]) -> dict[str, ActionRow]:
        """Record actions before any is done (``planned``: the ``actions`` table's values:
        action_id, account_identifier, action, reference_line_item_id, request_json,
        seen_before...). An action recorded before keeps its state and what was seen then;
        one not done yet is taken by this batch. Returns every one as the ledger has it."""
        stamp = now()
        ids = [p["action_id"] for p in planned]
        with self.engine.begin() as conn:
            for part in _batched(planned):
                rows = [
                    {**p, "batch_id": batch, "state": ActionState.PLANNED, "planned_at": stamp}
                    for p in part
                ]
                conn.execute(self._insert(actions).on_conflict_do_nothing(), rows)
            for part in _batched(ids):
                conn.execute(
                    update(actions)
                    .where(actions.c.action_id.in_(part), actions.c.state != ActionState.DONE)
                    .values(batch_id=batch)
                )
        return self.actions_of(ids)

    def actions_of(self, ids: Sequence[str]) -> dict[str, ActionRow]:
        out: dict[str, ActionRow] = {}
        with self.engine.connect() as conn:
            for part in _batched(list(ids)):
                for r in conn.execute(select(actions).where(actions.c.action_id.in_(part))):
                    out[r.action_id] = _action_row(r)
        return out

    def attempting(
        self,
        action_id: str,
        seen_before: dict[str, Any],
        run_id: str | None,
        hold_seconds: float,
        approver: str | None = None,
    ) -> bool:
        """Take the action for an attempt (compare-and-set): not done, and nobody else's
        attempt is under way (held until ``attempt_until``, long enough for one call to reach
        Tango). Records what the line showed just before (how many resends, its replacement),
        so a rerun after a crash can tell whether this attempt happened, and who attempted it
        (the run, its approver): an attempt found later is theirs. False: another run is
        attempting it now."""
        with self.engine.begin() as conn:
            clock = self._clock(conn)
            taken = conn.execute(
                update(actions)
                .where(
                    actions.c.action_id == action_id,
                    actions.c.state != ActionState.DONE,
                    or_(
                        actions.c.attempt_until.is_(None),
                        actions.c.attempt_until < clock,
                        actions.c.run_id == run_id,
                    ),
                )
                .values(
                    state=ActionState.PLANNED,
                    seen_before=json.dumps(seen_before, default=str),
                    run_id=run_id,
                    approver=approver,
                    attempt_until=clock + hold_seconds,
                )
            ).rowcount
        return bool(taken)

    def action_done(
        self, action_id: str, answer: str, *, run_id: str | None, approver: str | None
    ) -> None:
        self._settle_action(action_id, ActionState.DONE, answer, None, run_id, approver)

    def action_refused(
        self, action_id: str, http_code: int | None, reason: str, *, run_id: str | None
    ) -> None:
        self._settle_action(action_id, ActionState.REFUSED, reason, http_code, run_id, None)

    def _settle_action(
        self,
        action_id: str,
        state: ActionState,
        answer: str,
        http_code: int | None,
        run_id: str | None,
        approver: str | None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(actions)
                .where(actions.c.action_id == action_id, actions.c.state != ActionState.DONE)
                .values(
                    state=state,
                    answer=answer,
                    http_code=http_code,
                    run_id=run_id,
                    approver=approver,
                    done_at=now(),
                    attempt_until=None,
                )
            )

    def after_sending(self, references: Sequence[str]) -> dict[str, str]:
        """What was done to these lines after they were sent (the actions Tango did), one
        text per line, oldest first: "reissued as line RA-2 for 7.00 (actions batch b2,
        2026-11-30)". For a batch's report: its row follows the line to its replacement, and
        the replacement to its own ("then line RA-2: cancelled ...")."""
        said: dict[str, list[str]] = {}
        root = {r: r for r in references if r}  # a line (or a replacement) -> the batch's line
        frontier = list(root)
        with self.engine.connect() as conn:
            while frontier:
                replaced: list[str] = []
                for part in _batched(frontier):
                    rows = conn.execute(
                        select(actions)
                        .where(actions.c.reference_line_item_id.in_(part))
                        .where(actions.c.state == ActionState.DONE)
                        .order_by(actions.c.done_at)
                    )
                    for r in rows:
                        line = r.reference_line_item_id
                        amount = json.loads(r.request_json or "{}").get("amount")
                        price = f" for {amount}" if r.action == "reissue" and amount else ""
                        whose = "" if root[line] == line else f"then line {line}: "
                        said.setdefault(root[line], []).append(
                            f"{whose}{r.answer}{price} (actions batch {r.batch_id}, "
                            f"{(r.done_at or '')[:10]})"
                        )
                        new = REPLACED.search(r.answer or "") if r.action == "reissue" else None
                        if new and new[1] not in root:
                            root[new[1]] = root[line]
                            replaced.append(new[1])
                frontier = replaced
        return {ref: "; ".join(texts) for ref, texts in said.items()}

    def line_actions(self, reference_line_item_id: str) -> list[ActionRow]:
        """A line's actions, oldest first (its history after it was sent)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(actions)
                .where(actions.c.reference_line_item_id == reference_line_item_id)
                .order_by(actions.c.planned_at, actions.c.done_at)
            )
            return [_action_row(r) for r in rows]

    def references(self, account: str, line_ids: Sequence[str]) -> dict[str, str]:
        """externalRefLineItemID -> Tango's referenceLineItemId, for the lines this ledger
        sent that Tango has numbered."""
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for part in _batched(list(line_ids)):
                rows = conn.execute(
                    select(
                        line_items.c.external_ref_line_item_id,
                        line_items.c.reference_line_item_id,
                    ).where(
                        line_items.c.account_identifier == account,
                        line_items.c.external_ref_line_item_id.in_(part),
                        line_items.c.reference_line_item_id.is_not(None),
                    )
                )
                out.update({r[0]: r[1] for r in rows})
        return out

    def sent_amounts(self, account: str, references: Sequence[str]) -> dict[str, Decimal]:
        """Tango's referenceLineItemId -> the amount this ledger sent the line with."""
        out: dict[str, Decimal] = {}
        with self.engine.connect() as conn:
            for part in _batched(list(references)):
                rows = conn.execute(
                    select(line_items.c.reference_line_item_id, line_items.c.amount).where(
                        line_items.c.account_identifier == account,
                        line_items.c.reference_line_item_id.in_(part),
                    )
                )
                out.update({r[0]: Decimal(r[1]) for r in rows})
        return out

    def sent_line(self, line: str) -> dict[str, Any] | None:
        """How this ledger sent a line, named by Tango's referenceLineItemId or by its
        externalRefLineItemID (what Tango's portal shows): its batch and file, row, order and
        their times, what Tango last said of it."""
        named = or_(
            line_items.c.reference_line_item_id == line,
            line_items.c.external_ref_line_item_id == line,
        )
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    line_items.c.external_ref_line_item_id,
                    line_items.c.reference_line_item_id,
                    line_items.c.batch_id,
                    line_items.c.row_number,
                    line_items.c.amount,
                    line_items.c.currency,
                    line_items.c.line_item_status,
                    line_items.c.delivery_status,
                    line_items.c.scheduled_delivery_date,
                    line_items.c.error,
                    orders.c.external_ref_id,
                    orders.c.planned_at,
                    orders.c.accepted_at,
                    orders.c.completed_at,
                    orders.c.sent_by,
                    batches.c.source_name,
                )
                .join(orders, orders.c.external_ref_id == line_items.c.external_ref_id)
                .join(batches, batches.c.batch_id == line_items.c.batch_id)
                .where(named)
                .limit(1)
            ).first()
        return dict(row._mapping) if row else None

    def delivery_failures(self, reference_line_item_id: str) -> list[dict[str, Any]]:
        """When the ledger heard that a line's delivery failed, and why (oldest first)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(audit.c.at, audit.c.detail)
                .where(audit.c.kind == "delivery_failed")
                .where(audit.c.detail.contains(reference_line_item_id))
                .order_by(audit.c.id)
            )
            found = [{"at": r.at, **json.loads(r.detail or "{}")} for r in rows]
        return [f for f in found if f.get("reference") == reference_line_item_id]

    def orders_of(self, references: Sequence[str], order_ids: Sequence[str] = ()) -> set[str]:
        """The orders (externalRefID) holding these lines (Tango's referenceLineItemId), or
        numbered so by Tango (``order_ids``: a reissue's replacement is a line of its old
        line's order that the ledger's lines do not hold)."""
        out: set[str] = set()
        with self.engine.connect() as conn:
            for part in _batched(list(references)):
                rows = conn.execute(
                    select(line_items.c.external_ref_id).where(
                        line_items.c.reference_line_item_id.in_(part)
                    )
                )
                out.update(r[0] for r in rows)
            for part in _batched(list(order_ids)):
                rows = conn.execute(
                    select(orders.c.external_ref_id).where(orders.c.reference_order_id.in_(part))
                )
                out.update(r[0] for r in rows)
        return out

    # --- the audit trail --------------------------------------------------------------------

    def note(self, batch: str, kind: str, actor: str | None, detail: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            self._audit(conn, batch, kind, actor, detail)

    @staticmethod
    def _audit(
        conn: Connection, batch: str | None, kind: str, actor: str | None, detail: dict[str, Any]
    ) -> None:
        conn.execute(
            audit.insert().values(
                batch_id=batch or "",
                at=now(),
                kind=kind,
                actor=actor,
                detail=json.dumps(detail, default=str),
            )
        )


def delivery_failed(status: str | None, delivery: str | None) -> bool:
    """Tango says the line's delivery failed: its status, or its delivery status unless the
    line was cancelled (a line cancelled before delivery shows delivery FAILED at Tango)."""
    state = (status or "").upper()
    return state == "FAILED" or ((delivery or "").upper() == "FAILED" and state != "CANCELLED")


def submit_margin(timeout_seconds: float) -> float:
    """How long before its lease expires a run stops starting POSTs: an attempt reaches Tango
    within its connect and write timeouts; a second more for scheduling."""
    return 2 * timeout_seconds + 1


_LINE_STATUS = (
    update(line_items)
    .where(line_items.c.external_ref_id == bindparam("ref"))
    .where(line_items.c.external_ref_line_item_id == bindparam("line"))
    .values(
        line_item_status=bindparam("status"),
        delivery_status=bindparam("delivery"),
        reference_line_item_id=bindparam("reference"),
        charged=bindparam("charged_text"),
        scheduled_delivery_date=bindparam("scheduled"),
        error=bindparam("said"),
    )
)


def _status_values(external_ref_id: str, li: LineStatus) -> dict[str, Any]:
    return {
        "ref": external_ref_id,
        "line": li.line_id,
        "status": li.status,
        "delivery": li.delivery,
        "reference": li.reference,
        "charged_text": f"{li.charged:.2f}",
        "scheduled": li.scheduled,
        "said": li.error,
    }


class LeaseKeeper:
    """Renews a run's lease in the background while it sends, and lets it go at the end;
    ``guard`` raises :class:`LeaseLostError` unless the order may still be POSTed (call it before
    each attempt). ``renew=False``: a helper of the run that holds the lease (a fan-out
    share) only checks it."""

    def __init__(
        self, book: Ledger, lease: Lease, seconds: float, margin: float, renew: bool = True
    ) -> None:
        self.book, self.lease, self.seconds, self.margin = book, lease, seconds, margin
        self.renews = renew
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True, name="lease-keeper")

    def _renew(self) -> None:
        every = max((self.seconds - self.margin) / 3, 0.2)
        while not self._stop.wait(every):
            renewed = self.book.renew(self.lease, self.seconds)
            if renewed is None:
                return  # lost: guard() refuses from now on
            self.lease = renewed

    def guard(self, external_ref_id: str) -> None:
        if not self.book.may_submit(external_ref_id, self.lease, self.margin):
            raise LeaseLostError(
                f"order {external_ref_id}: this run no longer holds batch "
                f"{self.lease.batch_id}'s lease (or the order is no longer planned); not sent"
            )

    def __enter__(self) -> LeaseKeeper:
        if self.renews:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.renews:
            self._stop.set()
            self._thread.join()
            self.book.release(self.lease)


def create_tables(schema: MetaData, engine: Engine) -> None:
    """Create what is missing, table by table. Several workers may start at once: losing a
    CREATE race on a table is fine when the table is there afterwards."""
    for table in schema.sorted_tables:
        try:
            table.create(engine, checkfirst=True)
        except (OperationalError, ProgrammingError, IntegrityError):
            if not inspect(engine).has_table(table.name):
                raise


def _check_identity(engine: Engine, name: str) -> None:
    """Record the line identity's version in a new ledger; refuse a ledger made under another
    (its line ids would not match this program's: every line would look new)."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as conn:
        rows = conn.execute(select(ledger_meta.c.key, ledger_meta.c.value)).all()
        known = {str(key): str(value) for key, value in rows}
        # a ledger from before the identity had a version was made under version 1
        made_under = known.get("identity_version") or ("1" if known else str(IDENTITY_VERSION))
        conn.execute(
            dialect.insert(ledger_meta)
            .values(key="identity_version", value=made_under)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        made_under = conn.execute(
            select(ledger_meta.c.value).where(ledger_meta.c.key == "identity_version")
        ).scalar_one()
    if made_under != str(IDENTITY_VERSION):
        raise LedgerIdentityError(
            f"{name} keys its lines by identity version {made_under}, this program by version "
            f"{IDENTITY_VERSION}: its lines would look new and be sent again; use a new ledger "
            "or the program that made it"
        )


def _migrate(engine: Engine) -> None:
    """Bring a ledger written by an earlier version up to :data:`SCHEMA_VERSION`."""
    add_columns(
        engine,
        (
            ("batches", "lease_token", "VARCHAR(40)"),
            ("batches", "lease_epoch", "INTEGER NOT NULL DEFAULT 0"),
            ("batches", "lease_expires", "FLOAT NOT NULL DEFAULT 0"),
            ("orders", "sent_by", "VARCHAR(64)"),
            ("line_items", "recipient_key", "VARCHAR(40)"),
            ("orders", "replacements_charged", "VARCHAR(20)"),
        ),
    )
    with engine.begin() as conn:  # the index of a column added above
        conn.execute(
            text(
                "CREATE INDEX IF NOT EXISTS line_items_by_recipient "
                "ON line_items (account_identifier, recipient_key)"
            )
        )

    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as conn:
        conn.execute(
            dialect.insert(ledger_meta)
            .values(key="schema_version", value=str(SCHEMA_VERSION))
            .on_conflict_do_update(index_elements=["key"], set_={"value": str(SCHEMA_VERSION)})
        )


def add_columns(engine: Engine, added: Iterable[tuple[str, str, str]]) -> None:
    """``ALTER TABLE ... ADD COLUMN`` for each (table, column, type) the database lacks; several
    workers may do it at once."""
    for table, name, ddl in added:
        if name in {c["name"] for c in inspect(engine).get_columns(table)}:
            continue
        try:
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))
        except (OperationalError, ProgrammingError):  # another worker added it first
            if name not in {c["name"] for c in inspect(engine).get_columns(table)}:
                raise


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # first: switching a new file to WAL takes a lock, and a worker opening the same new
    # ledger at that moment was told "database is locked" at once instead of waiting
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
