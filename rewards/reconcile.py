"""The reconciliation: one report row per input row, totals, and the books check.

Every input row ends in exactly one outcome. The books balance when the counts add up, each
line's charge is what its amount and fee say (or zero when it did not go out), and the money
per currency matches what Tango reports for the batch's orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import columns
from .columns import ROW
from .errors import BooksDoNotBalanceError
from .ledger import FREE_LINES, LineState, OrderRow, OrderState

CHARGED_OUTCOMES = ("complete", "pending", "scheduled")
RELEASED_OUTCOMES = ("failed", "cancelled", "rejected_by_tango")
SUBMITTED_OUTCOMES = CHARGED_OUTCOMES + RELEASED_OUTCOMES  # this batch's lines Tango answered
NOT_SENT_OUTCOMES = ("not_submitted", "being_sent")  # valid rows not (yet) at Tango
PREVIEW_OUTCOMES = ("sent_before", "would_send")  # dry runs
OUTCOMES = (
    "rejected",
    "already_sent",
    *SUBMITTED_OUTCOMES,
    *NOT_SENT_OUTCOMES,
    *PREVIEW_OUTCOMES,
)
RECIPIENT, REWARD, METHOD, VALUE, KEYS = (columns.in_report(s) for s in columns.Section)
# by_method.csv: a line per delivery method (its section also holds where a card was mailed)
BY_METHOD = [columns.BY_NAME["delivery_method"].report_header, "currency"]
# the report's own columns beside the row's (rewards.columns says which show where)
REPORT_COLUMNS = [
    ROW,
    "outcome",
    "reason",
    *(c.report_header for c in (*RECIPIENT, *REWARD)),
    "reward_name",
    *(c.report_header for c in METHOD),
    "currency",
    *(c.report_header for c in VALUE),
    "fee",
    "amount_charged",
    "line_item_status",
    "delivery_status",
    "scheduled_delivery_date",
    *(c.report_header for c in KEYS),
    "external_ref_line_item_id",
    "external_ref_id",
    "reference_order_id",
    "reference_line_item_id",
    "after_sending",  # resent, reissued (as which line), cancelled... later, by actions runs
]

REPORTED = (*RECIPIENT, *REWARD, *METHOD, *VALUE, *KEYS)


@dataclass
class Reconciliation:
    report: pd.DataFrame
    counts: dict[str, int]
    money: pd.DataFrame  # per currency: requested, charged, released
    by_reward: pd.DataFrame
    by_method: pd.DataFrame
    balanced: bool = True
    discrepancies: list[str] = field(default_factory=list)


class Mode(StrEnum):
    SEND = "send"  # the run sent: every valid row must be at Tango
    STOPPED = "stopped"  # a gate stopped the run before sending: nothing new went out
    DRY_RUN = "dry_run"  # a preview: what was sent before, what would be sent


def _text(values: pd.Series) -> np.ndarray:
    """A column as Python objects, None where missing (for the few rows a reason names)."""
    out: np.ndarray = values.to_numpy(dtype=object, na_value=None)
    return out


def _arrow(values: pd.Series | np.ndarray) -> pa.Array | pa.ChunkedArray:
    """A text column as Arrow large strings (the buffers pandas holds, where it holds Arrow)."""
    return pc.cast(pa.array(getattr(values, "array", values), from_pandas=True), pa.large_string())


def _first_of(table: pd.DataFrame, key: str, ids: pa.Array | pa.ChunkedArray) -> pd.DataFrame:
    """``table``'s first row for each of ``ids``, in their order (nulls where it has none),
    without the key (the caller has the ids): a hash lookup and a take in Arrow. pandas'
    reindex on a text index made a Python string per row and a copy of each table: the peak
    of a million-row run's report."""
    arrow = pa.Table.from_pandas(table, preserve_index=False).replace_schema_metadata(None)
    at = pc.index_in(ids, value_set=pc.cast(arrow[key], pa.large_string()))
    return arrow.drop_columns([key]).take(at).to_pandas(types_mapper=pd.ArrowDtype)


def _lookup(keys: pd.Series, table: Mapping[str, str | None]) -> pd.Series:
    """Each key's value in ``table`` (missing where it has none), looked up in Arrow."""
    found = pa.array(list(table.values()), pa.large_string()).take(
        pc.index_in(_arrow(keys), value_set=pa.array(list(table), pa.large_string()))
    )
    return pd.Series(pd.array(found, dtype="str"), index=keys.index)


def _where(h: pd.DataFrame) -> pd.Series:
    """Per holder: which batch and order hold the line, from which file, when, how far."""
    refused = (h["line_state"] == LineState.REJECTED) | (h["order_state"] == OrderState.REJECTED)
    status = h["line_item_status"].astype(object).where(h["line_item_status"].notna(), None)
    status = status.where(status.notna(), np.where(_sent(h), "at Tango", "not yet at Tango"))
    status = status.where(~refused.fillna(False).to_numpy(bool), "refused by Tango")
    where = (
        "batch "
        + h["batch_id"].astype(object)
        + " (order "
        + h["external_ref_id"].astype(object)
        + ", file "
        + h["source_name"].astype(object)
        + ", "
        + h["created_at"].astype(object)
        + ", status "
        + status
        + ")"
    )
    # the same reward to the same contact, the name spelt otherwise
    return where.where(
        ~h["renamed"].fillna(False).to_numpy(bool),
        where + " to the same contact under another name; if this is another person or a second "
        "reward, give the row a client_row_key",
    )


def _sent(h: pd.DataFrame) -> np.ndarray:
    """Per holder: Tango has the line (or refused it), so it counts as sent."""
    answered = h["order_state"].isin([s for s in OrderState if s.answered])
    sent: np.ndarray = (
        (answered | (h["line_state"] == LineState.REJECTED)).fillna(False).to_numpy(bool)
    )
    return sent


def _named(
    conditions: list[np.ndarray], names: list[str], default: str
) -> pd.api.extensions.ExtensionArray:
    """Per row, the name of the first condition it meets (``default`` if none), as Arrow
    text: picked by a small code per row (np.select on the names made two arrays of 17
    characters a row, then a Python string per row: the report step's peak)."""
    codes = np.select(conditions, list(range(len(names))), len(names)).astype(np.int8)
    text = pa.array([*names, default], pa.large_string()).take(pa.array(codes))
    return pd.array(text, dtype="str")


def _classify(
    held: pd.DataFrame, line: pd.DataFrame, batch: str, mode: Mode, unsent_reason: str
) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray]:
    """(outcome, reason) of each valid row, from who holds its line (``held``) and this
    batch's line (``line``), both aligned to the valid rows (missing: nobody / none)."""
    present = held["batch_id"].notna().to_numpy(bool)
    free = present & held["line_state"].isin(FREE_LINES).fillna(False).to_numpy(bool)
    held_by_us = present & ~free
    sent = held_by_us & _sent(held)
    other = held_by_us & (held["batch_id"] != batch).fillna(False).to_numpy(bool)
    # the rows whose reason names their holder (a run that sends: another batch's rows only;
    # its own rows, most of a million, say no more than their status)
    told = (sent | other) if mode is Mode.DRY_RUN else other
    where = np.full(len(held), "", dtype=object)
    if told.any():
        where[told] = _where(held[told]).to_numpy(dtype=object)

    if mode is Mode.DRY_RUN:
        live = (held["lease_expires"] > held["seen_at"]).fillna(False).to_numpy(bool)
        busy = ~sent & other & live
        reason = np.full(len(held), "dry run: would be sent", dtype=object)
        reason[sent] = "sent before in " + where[sent]
        reason[busy] = "being sent now by " + where[busy]
        return _named([sent, busy], ["sent_before", "being_sent"], "would_send"), reason

    state, status = line["state"], line["line_item_status"]
    dated = (line["scheduled_delivery_date"].fillna("") != "").to_numpy(bool)
    # this batch's line that Tango refused: free for the next run, and said so here
    refused = (state == LineState.REJECTED).fillna(False).to_numpy(bool)
    unsent = ~refused & (
        (line["state"].isna() | ~held_by_us | state.isin([LineState.PLANNED, LineState.RELEASED]))
        .fillna(True)
        .to_numpy(bool)
    )
    before, busy = other & sent, other & ~sent
    outcome = _named(
        [
            before,
            busy,
            unsent,
            refused,
            (status == "COMPLETE").fillna(False).to_numpy(bool),
            (status == "FAILED").fillna(False).to_numpy(bool),
            (status == "CANCELLED").fillna(False).to_numpy(bool),
            dated,
        ],
        [
            *("already_sent", "being_sent", "not_submitted", "rejected_by_tango"),
            *("complete", "failed", "cancelled", "scheduled"),
        ],
        "pending",
    )
    error = _text(line["error"])
    reason = np.where(unsent, unsent_reason, np.where(pd.isna(error), "", error)).astype(object)
    reason[before] = "already sent in " + where[before]
    reason[busy] = (
        "being sent by "
        + where[busy]
        + "; its run has not finished: run this file again once it has"
    )
    return outcome, reason


def _after(references: pd.Series, after_sending: Mapping[str, str] | None) -> Any:
    """Each row's text of what was done to its line after sending ("" for most)."""
    if not after_sending:
        return ""
    return _lookup(references, after_sending).fillna("").array


def reconcile(
    *,
    original: pd.DataFrame,
    rejected: pd.DataFrame,
    valid: pd.DataFrame,
    batch: str,
    holders: pd.DataFrame,
    ledger_lines: pd.DataFrame,
    ledger_orders: list[OrderRow],
    mode: Mode = Mode.SEND,
    extra_columns: list[str] | None = None,
    unsent_reason: str = "not submitted",
    late: dict[str, list[str] | None] | None = None,
    after_sending: Mapping[str, str] | None = None,
) -> Reconciliation:
    """``valid`` carries each valid row's ``line_id``; ``holders`` says, from the ledger as
    it is now, which batch holds each line (:meth:`Ledger.holder_table`); ``ledger_lines``
    (:meth:`Ledger.line_table`) / ``ledger_orders`` are this batch's; ``after_sending``
    (:meth:`Ledger.after_sending`) what actions did to its lines since. Row by row in arrays:

    a million rows hold no object each."""
    parts: list[pd.DataFrame] = []

    if len(rejected):
        parts.append(
            pd.DataFrame(
                {
                    ROW: rejected[ROW],
                    "outcome": "rejected",
                    "reason": rejected["problems"],
                    **{
                        c.report_header: rejected[c.name]
                        for c in REPORTED
                        if c.report is not None and c.report.rejected and c.name in rejected
                    },
                }
            )
        )
    if len(valid):
        ids = _arrow(valid["line_id"])
        held = _first_of(holders, "line_id", ids)
        line = _first_of(ledger_lines, "external_ref_line_item_id", ids)

        outcome, reason = _classify(held, line, batch, mode, unsent_reason)
        here = outcome.isin(SUBMITTED_OUTCOMES)
        mine = (held["batch_id"] == batch).fillna(False)  # refused ones too: which order
        taken = held["batch_id"].notna() & (~held["line_state"].isin(FREE_LINES) | mine)
        order_ref = held["external_ref_id"].where(taken.fillna(False).to_numpy(bool), "")
        order_id = {o.external_ref_id: o.reference_order_id for o in ledger_orders}
        del held

        def ours(name: str) -> Any:
            """This batch's line's cell, for rows Tango answered in this batch; else missing
            (Arrow text, as the rows' own columns: no Python string per cell)."""
            return pd.array(line[name].where(here).array, dtype="str")

        charged = ours("charged")
        answered = ours("reference_line_item_id")
        parts.append(
            pd.DataFrame(
                {
                    ROW: valid[ROW].array,
                    "outcome": outcome,
                    "reason": reason,
                    # .array: the Arrow columns as they are (to_numpy made a str per cell)
                    **{c.report_header: valid[c.name].array for c in REPORTED},
                    **{c: valid[c].array for c in ("reward_name", "currency", "fee")},
                    "amount_charged": pd.Series(charged).fillna("").replace("", "0").array,
                    "line_item_status": ours("line_item_status"),
                    "delivery_status": ours("delivery_status"),
                    # Tango's; a dry run's: the date the row would be scheduled for
                    "scheduled_delivery_date": valid["delivery_date"].array
                    if mode is Mode.DRY_RUN
                    else ours("scheduled_delivery_date"),
                    "external_ref_line_item_id": pd.array(ids, dtype="str"),
                    "external_ref_id": pd.array(order_ref.array, dtype="str"),
                    "reference_order_id": _lookup(order_ref, order_id).array,
                    "reference_line_item_id": answered,
                    "after_sending": _after(pd.Series(answered), after_sending),
                }
            )
        )
        del line

    report = _stacked(parts)
    del parts
    report["quantity"] = pd.to_numeric(report["quantity"], errors="coerce").astype("Int64")
    if extra_columns:  # added in place: a join copied the whole report
        extras = original.set_index(ROW)[extra_columns].reindex(report[ROW].to_numpy())
        for name in extra_columns:
            report[name] = extras[name].array

    sent = _submitted(report)
    discrepancies = _check_books(original, report, sent, ledger_orders, mode)
    for ref, twice in (late or {}).items():
        if twice is None:
            discrepancies.append(
                f"could not make sure that order {ref} of a run that had stopped did not reach "
                "Tango late (Tango did not answer): run the same file again to check"
            )
            continue
        rows = report.loc[report["external_ref_line_item_id"].isin(twice), ROW].tolist()

        discrepancies.append(
            f"order {ref} of a run that had stopped reached Tango after its rows were sent again "
            f"by this run: {len(twice)} reward(s) went out twice (rows {rows[:20]}); cancel the "
            "extra line items at Tango"
        )

    counts = {o: int((report["outcome"] == o).sum()) for o in OUTCOMES}
    counts["rows_in"] = len(original)
    counts["submitted"] = sum(counts[o] for o in SUBMITTED_OUTCOMES)
    money = _money(sent, ledger_orders)
    by_reward = _breakdown(sent, [*(c.report_header for c in REWARD), "reward_name", "currency"])
    by_method = _breakdown(sent, BY_METHOD)
    return Reconciliation(
        report=report,
        counts=counts,
        money=money,
        by_reward=by_reward,
        by_method=by_method,
        balanced=not discrepancies,
        discrepancies=discrepancies,
    )


def _stacked(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The report's parts (rejected rows, valid rows) as one table in the file's row order,
    its columns :data:`REPORT_COLUMNS`: made a column at a time, each copied once (a concat
    then a sort of the whole table held three copies of a million rows at once)."""
    if not parts:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    rows = np.concatenate([p[ROW].to_numpy() for p in parts])
    order = None if pd.Index(rows).is_monotonic_increasing else np.argsort(rows, kind="stable")
    columns: dict[str, Any] = {}
    for name in REPORT_COLUMNS:
        have = [p[name] for p in parts if name in p]
        dtype = have[0].dtype if have else object
        pieces = [
            p[name].reset_index(drop=True)
            if name in p
            else pd.Series(index=range(len(p)), dtype=dtype)
            for p in parts
        ]
        column = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
        columns[name] = column.array if order is None else column.array.take(order)
    return pd.DataFrame(columns, columns=REPORT_COLUMNS)


def _cents(values: pd.Series) -> np.ndarray:
    """Money written with at most two decimals ("25.50"; "" or missing for none) as integer
    cents, all at once in Arrow; exact (more decimals raise: the books are not rounded)."""
    text = pc.utf8_trim_whitespace(
        pa.array(values.to_numpy(object), pa.large_string(), from_pandas=True)
    )
    text = pc.fill_null(text, "")
    text = pc.if_else(pc.equal(text, ""), "0", text)
    if not pc.all(pc.match_substring_regex(text, r"^-?\d{1,15}(\.\d{1,2})?$")).as_py():
        raise ValueError("money with more than two decimals, or not a number, in the report")
    body = pc.utf8_ltrim(text, "-")
    units = pc.cast(pc.replace_substring_regex(body, r"\..*$", ""), pa.int64())
    part = pc.cast(
        pc.utf8_rpad(pc.replace_substring_regex(body, r"^\d+\.?", ""), 2, "0"), pa.int64()
    )
    cents: np.ndarray = units.to_numpy() * 100 + part.to_numpy()
    return np.where(pc.starts_with(text, "-").to_numpy(zero_copy_only=False), -cents, cents)


def _dec(cents: np.ndarray | pd.Series | int) -> Decimal:
    """Cents, summed, as an amount."""
    return Decimal(int(np.sum(cents))).scaleb(-2)


def _expected(report: pd.DataFrame) -> np.ndarray:
    """Per row, in cents: the amount times the quantity, plus the fee."""
    qty = pd.to_numeric(report["quantity"], errors="coerce").fillna(1).astype(np.int64)
    expected: np.ndarray = _cents(report["amount_requested"]) * qty.to_numpy() + _cents(
        report["fee"]
    )
    return expected


def _submitted(report: pd.DataFrame) -> pd.DataFrame:
    """The rows Tango answered, with only the columns the totals and checks read (a copy of
    a million rows' every column was the report step's peak)."""
    keys = [*(c.report_header for c in REWARD), BY_METHOD[0]]
    wanted = [ROW, "outcome", "currency", "amount_requested", "quantity", "fee", "reward_name"]
    wanted += ["amount_charged", "external_ref_id", *(k for k in keys if k not in wanted)]
    return report.loc[report["outcome"].isin(SUBMITTED_OUTCOMES).to_numpy(bool), wanted]


def _money(sent: pd.DataFrame, ledger_orders: list[OrderRow]) -> pd.DataFrame:
    """Per currency: what the rows asked, what their lines were charged, what was released
    (failed, cancelled, refused), and what reissues of these lines charged since (their
    replacements are new lines of the same orders: Tango's order totals include them)."""
    if sent.empty:
        return pd.DataFrame(
            columns=["currency", "requested", "charged", "released", "reissues_charged"]
        )
    pairs = sent[["external_ref_id", "currency"]].drop_duplicates()
    currency_of = dict(zip(pairs["external_ref_id"], pairs["currency"], strict=True))
    reissues: dict[str, Decimal] = {}
    for o in ledger_orders:
        if o.replacements_charged and o.external_ref_id in currency_of:
            currency = currency_of[o.external_ref_id]
            reissues[currency] = reissues.get(currency, Decimal(0)) + Decimal(
                o.replacements_charged
            )
    expected = _expected(sent)
    charged = _cents(sent["amount_charged"])
    cents = pd.DataFrame(
        {"currency": sent["currency"].to_numpy(), "requested": expected, "charged": charged}
    )
    sums = cents.groupby("currency", as_index=False).sum()
    return pd.DataFrame(
        {
            "currency": sums["currency"],
            "requested": [_dec(c) for c in sums["requested"]],
            "charged": [_dec(c) for c in sums["charged"]],
            "released": [
                _dec(r - c) for r, c in zip(sums["requested"], sums["charged"], strict=True)
            ],
            "reissues_charged": [reissues.get(c, Decimal("0.00")) for c in sums["currency"]],
        }
    )


def _breakdown(sent: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if sent.empty:
        return pd.DataFrame(columns=[*keys, "rows", "complete", "failed", "charged", "cancelled"])
    cancelled = sent["outcome"] == "cancelled"
    frame = sent[[*keys, ROW]].assign(
        complete=(sent["outcome"] == "complete").astype(int),
        failed=(sent["outcome"].isin(RELEASED_OUTCOMES) & ~cancelled).astype(int),
        charged=_cents(sent["amount_charged"]),
        cancelled=cancelled.astype(int),
    )
    out = frame.groupby(keys, as_index=False, dropna=False).agg(
        rows=(ROW, "count"),
        complete=("complete", "sum"),
        failed=("failed", "sum"),
        charged=("charged", "sum"),
        cancelled=("cancelled", "sum"),
    )

    out["charged"] = [_dec(c) for c in out["charged"]]
    return out


def _check_books(
    original: pd.DataFrame,
    report: pd.DataFrame,
    sent: pd.DataFrame,
    ledger_orders: list[OrderRow],
    mode: Mode,
) -> list[str]:
    problems: list[str] = []
    if len(report) != len(original):
        problems.append(f"{len(original)} rows in, {len(report)} rows in the report")
    missing = np.setdiff1d(original[ROW].to_numpy(), report[ROW].to_numpy())
    repeated = report[ROW][report[ROW].duplicated()].tolist()
    if len(missing):
        problems.append(f"rows missing from the report: {missing[:20].tolist()}")

    if repeated:
        problems.append(f"rows reported twice: {repeated[:20]}")
    if mode is Mode.SEND:  # a run that sent: every valid row must be at Tango now
        for outcome in NOT_SENT_OUTCOMES:
            rows = report.loc[report["outcome"] == outcome, ROW].tolist()
            if rows:
                problems.append(
                    f"{len(rows)} valid row(s) not at Tango ({outcome}): rows {rows[:20]}"
                )
    if len(sent):
        charged = _cents(sent["amount_charged"])
        expected = _expected(sent)
        full = sent["outcome"].isin(CHARGED_OUTCOMES).to_numpy(bool)
        wrong = sent[(full & (charged != expected)) | (~full & (charged != 0))]
        for _, row in wrong.head(20).iterrows():
            problems.append(
                f"row {row[ROW]}: {row['outcome']} but charged "
                f"{row['amount_charged']} {row['currency']} "
                f"(expected {'the amount plus fee' if row['outcome'] in CHARGED_OUTCOMES else '0'})"
            )
        ours = set(sent["external_ref_id"].unique()) - {""}
        reported = [o for o in ledger_orders if o.external_ref_id in ours]
        tango = sum(  # less what Tango charged for replacements added later (reissues)
            (
                Decimal(o.charged_total) - Decimal(o.replacements_charged or 0)
                for o in reported
                if o.charged_total is not None
            ),
            Decimal(0),
        )
        if all(o.charged_total is not None for o in reported) and _dec(charged) != tango:
            problems.append(f"line charges add up to {_dec(charged)}, Tango's orders to {tango}")

    return problems


def refused(result: Reconciliation) -> str | None:
    """What to tell when Tango refused rows of this run (a whole order, for a setting such as
    its size or the account; or single lines): nothing was charged for them, and the next run
    of the file sends them (a refused line is free, see :mod:`.ledger`)."""
    rows = result.report[result.report["outcome"] == "rejected_by_tango"]
    if rows.empty:
        return None
    first = rows.iloc[0]
    return (
        f"Tango refused {len(rows)} row(s) (row {first[ROW]}: {first['reason']}); nothing was "
        "charged for them: fix what Tango says and run the same file again to send them"
    )


def assert_balanced(result: Reconciliation) -> None:

    if not result.balanced:
        raise BooksDoNotBalanceError("the books do not balance: " + "; ".join(result.discrepancies))
