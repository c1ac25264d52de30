"""The reconciliation: one report row per input row, totals, and the books check.

Every input row ends in exactly one outcome. The books balance when the counts add up, each
line's charge is what its amount and fee say (or zero when it did not go out), and the money
per currency matches what Tango reports for the batch's orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import pandas as pd

from . import columns
from .columns import ROW
from .errors import BooksDoNotBalanceError
from .ledger import Holder, LineRow, LineState, OrderRow

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


def _outcome(line: LineRow | None, unsent: bool) -> str:
    if line is None or unsent or line.state in (LineState.PLANNED, LineState.RELEASED):
        return "not_submitted"
    if line.state is LineState.REJECTED:
        return "rejected_by_tango"
    status = line.line_item_status
    if status == "COMPLETE":
        return "complete"
    if status == "FAILED":
        return "failed"
    if status == "CANCELLED":
        return "cancelled"
    return "scheduled" if line.scheduled_delivery_date else "pending"


def _where(h: Holder) -> str:
    where = (
        f"batch {h.batch_id} (order {h.external_ref_id}, file {h.source_name}, "
        f"{h.created_at}, status {h.status})"
    )
    if h.renamed:  # the same reward to the same contact, the name spelt otherwise
        where += (
            " to the same contact under another name; if this is another person or a second "
            "reward, give the row a client_row_key"
        )
    return where


def _classify(
    line_id: str, holder: Holder | None, line: LineRow | None, batch: str, mode: Mode
) -> tuple[str, str | None]:
    """(outcome, reason) of one valid row."""
    if mode is Mode.DRY_RUN:
        if holder is not None and not holder.free and holder.sent:
            return "sent_before", "sent before in " + _where(holder)
        if (
            holder is not None
            and not holder.free
            and holder.batch_id != batch
            and holder.lease_live
        ):
            return "being_sent", "being sent now by " + _where(holder)
        return "would_send", "dry run: would be sent"
    if holder is not None and not holder.free and holder.batch_id != batch:
        if holder.sent:
            return "already_sent", "already sent in " + _where(holder)
        return "being_sent", (
            "being sent by "
            + _where(holder)
            + "; its run has not finished: run this file again once it has"
        )
    outcome = _outcome(line, holder is None or holder.free)
    return outcome, (line.error if line is not None and outcome != "not_submitted" else None)


def reconcile(
    *,
    original: pd.DataFrame,
    rejected: pd.DataFrame,
    valid: pd.DataFrame,
    batch: str,
    holders: dict[str, Holder],
    ledger_lines: list[LineRow],
    ledger_orders: list[OrderRow],
    mode: Mode = Mode.SEND,
    extra_columns: list[str] | None = None,
    unsent_reason: str = "not submitted",
    late: dict[str, list[str] | None] | None = None,
) -> Reconciliation:
    """``valid`` carries each valid row's ``line_id``; ``holders`` says, from the ledger as
    it is now, which batch holds each line; ``ledger_lines`` / ``ledger_orders`` are this
    batch's."""
    lines = {li.external_ref_line_item_id: li for li in ledger_lines}
    order_of = {o.external_ref_id: o for o in ledger_orders}
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
        ids = valid["line_id"].tolist()
        mine = [lines.get(i) for i in ids]
        said = [
            _classify(i, holders.get(i), li, batch, mode) for i, li in zip(ids, mine, strict=True)
        ]
        outcome = [o for o, _ in said]
        reason = [
            r if r is not None else unsent_reason if o == "not_submitted" else "" for o, r in said
        ]
        held = [holders.get(i) for i in ids]
        order_ref = [h.external_ref_id if h is not None and not h.free else "" for h in held]
        here = [o in SUBMITTED_OUTCOMES for o in outcome]
        parts.append(
            pd.DataFrame(
                {
                    ROW: valid[ROW],
                    "outcome": outcome,
                    "reason": reason,
                    **{c.report_header: valid[c.name] for c in REPORTED},
                    **{c: valid[c] for c in ("reward_name", "currency", "fee")},
                    "amount_charged": [
                        (li.charged or "0") if li is not None and h else "0"
                        for li, h in zip(mine, here, strict=True)
                    ],
                    "line_item_status": [
                        li.line_item_status if li is not None and h else None
                        for li, h in zip(mine, here, strict=True)
                    ],
                    "delivery_status": [
                        li.delivery_status if li is not None and h else None
                        for li, h in zip(mine, here, strict=True)
                    ],
                    "scheduled_delivery_date": [
                        li.scheduled_delivery_date if li is not None and h else None
                        for li, h in zip(mine, here, strict=True)
                    ],
                    "external_ref_line_item_id": ids,
                    "external_ref_id": order_ref,
                    "reference_order_id": [
                        order_of[r].reference_order_id if r in order_of else None for r in order_ref
                    ],
                    "reference_line_item_id": [
                        li.reference_line_item_id if li is not None and h else None
                        for li, h in zip(mine, here, strict=True)
                    ],
                }
            )
        )
    report = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=REPORT_COLUMNS)
    report = report.reindex(columns=REPORT_COLUMNS)
    report = report.sort_values(ROW, kind="stable").reset_index(drop=True)
    report["quantity"] = pd.to_numeric(report["quantity"], errors="coerce").astype("Int64")
    if extra_columns:
        extras = original.set_index(ROW)[extra_columns]
        report = report.join(extras, on=ROW)

    discrepancies = _check_books(original, report, ledger_orders, mode)
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
    money = _money(report)
    sent = report[report["outcome"].isin(SUBMITTED_OUTCOMES)]
    by_reward = _breakdown(sent, [*(c.report_header for c in REWARD), "reward_name", "currency"])
    by_method = _breakdown(sent, [*(c.report_header for c in METHOD), "currency"])
    return Reconciliation(
        report=report,
        counts=counts,
        money=money,
        by_reward=by_reward,
        by_method=by_method,
        balanced=not discrepancies,
        discrepancies=discrepancies,
    )


def _dec(values: pd.Series) -> pd.Series:
    return values.fillna("0").replace("", "0").astype("str").map(Decimal)


def _expected(report: pd.DataFrame) -> pd.Series:
    qty = pd.to_numeric(report["quantity"], errors="coerce").fillna(1).astype(int)
    return _dec(report["amount_requested"]) * qty + _dec(report["fee"])


def _money(report: pd.DataFrame) -> pd.DataFrame:
    sent = report[report["outcome"].isin(SUBMITTED_OUTCOMES)]
    if sent.empty:
        return pd.DataFrame(columns=["currency", "requested", "charged", "released"])
    expected = _expected(sent)
    charged = _dec(sent["amount_charged"])
    frame = pd.DataFrame(
        {
            "currency": sent["currency"],
            "requested": expected,
            "charged": charged,
            "released": expected - charged,
        }
    )
    return frame.groupby("currency", as_index=False).agg(
        {"requested": "sum", "charged": "sum", "released": "sum"}
    )


def _breakdown(sent: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if sent.empty:
        return pd.DataFrame(columns=[*keys, "rows", "complete", "failed", "charged"])
    frame = sent.assign(
        complete=(sent["outcome"] == "complete").astype(int),
        failed=sent["outcome"].isin(RELEASED_OUTCOMES).astype(int),
        charged=_dec(sent["amount_charged"]),
    )
    return frame.groupby(keys, as_index=False, dropna=False).agg(
        rows=(ROW, "count"),
        complete=("complete", "sum"),
        failed=("failed", "sum"),
        charged=("charged", "sum"),
    )


def _check_books(
    original: pd.DataFrame, report: pd.DataFrame, ledger_orders: list[OrderRow], mode: Mode
) -> list[str]:
    problems: list[str] = []
    if len(report) != len(original):
        problems.append(f"{len(original)} rows in, {len(report)} rows in the report")
    missing = set(original[ROW]) - set(report[ROW])
    repeated = report[ROW][report[ROW].duplicated()].tolist()
    if missing:
        problems.append(f"rows missing from the report: {sorted(missing)[:20]}")
    if repeated:
        problems.append(f"rows reported twice: {repeated[:20]}")
    if mode is Mode.SEND:  # a run that sent: every valid row must be at Tango now
        for outcome in NOT_SENT_OUTCOMES:
            rows = report.loc[report["outcome"] == outcome, ROW].tolist()
            if rows:
                problems.append(
                    f"{len(rows)} valid row(s) not at Tango ({outcome}): rows {rows[:20]}"
                )
    sent = report[report["outcome"].isin(SUBMITTED_OUTCOMES)]
    if len(sent):
        charged = _dec(sent["amount_charged"])
        expected = _expected(sent)
        full = sent["outcome"].isin(CHARGED_OUTCOMES)
        wrong = sent[(full & (charged != expected)) | (~full & (charged != 0))]
        for _, row in wrong.head(20).iterrows():
            problems.append(
                f"row {row[ROW]}: {row['outcome']} but charged "
                f"{row['amount_charged']} {row['currency']} "
                f"(expected {'the amount plus fee' if row['outcome'] in CHARGED_OUTCOMES else '0'})"
            )
        ours = {r for r in sent["external_ref_id"] if r}
        reported = [o for o in ledger_orders if o.external_ref_id in ours]
        tango = sum(  # less what Tango charged for replacements added later (reissues)
            (
                Decimal(o.charged_total) - Decimal(o.replacements_charged or 0)
                for o in reported
                if o.charged_total is not None
            ),
            Decimal(0),
        )
        if all(o.charged_total is not None for o in reported) and charged.sum() != tango:
            problems.append(f"line charges add up to {charged.sum()}, Tango's orders to {tango}")
    return problems


def assert_balanced(result: Reconciliation) -> None:
    if not result.balanced:
        raise BooksDoNotBalanceError("the books do not balance: " + "; ".join(result.discrepancies))
