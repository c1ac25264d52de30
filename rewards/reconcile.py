"""The reconciliation: one report row per input row, totals, and the books check.

Every input row ends in exactly one outcome. The books balance when the counts add up, each
line's charge is what its amount and fee say (or zero when it did not go out), and the money
per currency matches what Tango reports for the batch's orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from .columns import ROW
from .errors import BooksDoNotBalanceError

CHARGED_OUTCOMES = ("complete", "pending", "scheduled")
RELEASED_OUTCOMES = ("failed", "cancelled", "rejected_by_tango", "not_submitted")
OUTCOMES = ("rejected", "already_sent", *CHARGED_OUTCOMES, *RELEASED_OUTCOMES)
REPORT_COLUMNS = [
    ROW,
    "outcome",
    "reason",
    "first_name",
    "last_name",
    "email",
    "mobile_number",
    "utid",
    "reward_name",
    "delivery_method",
    "currency",
    "amount_requested",
    "quantity",
    "fee",
    "amount_charged",
    "line_item_status",
    "delivery_status",
    "scheduled_delivery_date",
    "campaign",
    "client_row_key",
    "external_ref_line_item_id",
    "external_ref_id",
    "reference_order_id",
    "reference_line_item_id",
]


@dataclass
class Reconciliation:
    report: pd.DataFrame
    counts: dict[str, int]
    money: pd.DataFrame  # per currency: requested, charged, released
    by_reward: pd.DataFrame
    by_method: pd.DataFrame
    balanced: bool = True
    discrepancies: list[str] = field(default_factory=list)


def _outcome(state: str | None, status: str | None, scheduled: str | None) -> str:
    if state == "rejected":
        return "rejected_by_tango"
    if state == "planned" or state is None:
        return "not_submitted"
    if status == "COMPLETE":
        return "complete"
    if status == "FAILED":
        return "failed"
    if status == "CANCELLED":
        return "cancelled"
    return "scheduled" if scheduled else "pending"


def reconcile(
    *,
    original: pd.DataFrame,
    rejected: pd.DataFrame,
    to_send: pd.DataFrame,
    already_sent: pd.DataFrame,
    ledger_lines: list[dict[str, Any]],
    ledger_orders: list[dict[str, Any]],
    extra_columns: list[str] | None = None,
    unsent_reason: str = "not submitted",
) -> Reconciliation:
    lines = {li["external_ref_line_item_id"]: li for li in ledger_lines}
    order_of = {o["external_ref_id"]: o for o in ledger_orders}
    parts: list[pd.DataFrame] = []

    if len(rejected):
        parts.append(
            pd.DataFrame(
                {
                    ROW: rejected[ROW],
                    "outcome": "rejected",
                    "reason": rejected["problems"],
                    **{
                        c: rejected[c]
                        for c in (
                            "first_name",
                            "last_name",
                            "email",
                            "mobile_number",
                            "utid",
                            "delivery_method",
                            "campaign",
                            "client_row_key",
                        )
                        if c in rejected
                    },
                    "amount_requested": rejected.get("amount", ""),
                }
            )
        )
    common = (
        "first_name",
        "last_name",
        "email",
        "mobile_number",
        "utid",
        "reward_name",
        "delivery_method",
        "currency",
        "quantity",
        "fee",
        "campaign",
        "client_row_key",
    )
    if len(already_sent):
        parts.append(
            pd.DataFrame(
                {
                    ROW: already_sent[ROW],
                    "outcome": "already_sent",
                    "reason": (
                        "already sent in batch "
                        + already_sent["sent_in_batch"]
                        + " (order "
                        + already_sent["sent_in_order"]
                        + ", file "
                        + already_sent["sent_from_file"]
                        + ", "
                        + already_sent["sent_at"]
                        + ", status "
                        + already_sent["sent_status"].fillna("")
                        + ")"
                    ),
                    **{c: already_sent[c] for c in common},
                    "amount_requested": already_sent["amount"],
                    "amount_charged": "0.00",
                    "external_ref_line_item_id": already_sent["line_id"],
                    "external_ref_id": already_sent["sent_in_order"],
                }
            )
        )
    if len(to_send):
        led = to_send["line_id"].map(lines)
        state = [li["state"] if isinstance(li, dict) else None for li in led]
        status = [li["line_item_status"] if isinstance(li, dict) else None for li in led]
        sched = [li["scheduled_delivery_date"] if isinstance(li, dict) else None for li in led]
        outcome = [_outcome(a, b, c) for a, b, c in zip(state, status, sched, strict=True)]
        order_ref = [li["external_ref_id"] if isinstance(li, dict) else "" for li in led]
        parts.append(
            pd.DataFrame(
                {
                    ROW: to_send[ROW],
                    "outcome": outcome,
                    "reason": [
                        (li.get("error") or "") if isinstance(li, dict) else unsent_reason
                        for li in led
                    ],
                    **{c: to_send[c] for c in common},
                    "amount_requested": to_send["amount"],
                    "amount_charged": [
                        (li.get("charged") or "0") if isinstance(li, dict) else "0" for li in led
                    ],
                    "line_item_status": status,
                    "delivery_status": [
                        li.get("delivery_status") if isinstance(li, dict) else None for li in led
                    ],
                    "scheduled_delivery_date": sched,
                    "external_ref_line_item_id": to_send["line_id"],
                    "external_ref_id": order_ref,
                    "reference_order_id": [
                        order_of.get(r, {}).get("reference_order_id") for r in order_ref
                    ],
                    "reference_line_item_id": [
                        li.get("reference_line_item_id") if isinstance(li, dict) else None
                        for li in led
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

    discrepancies = _check_books(original, report, ledger_orders)
    counts = {o: int((report["outcome"] == o).sum()) for o in OUTCOMES}
    counts["rows_in"] = len(original)
    counts["submitted"] = sum(counts[o] for o in (*CHARGED_OUTCOMES, *RELEASED_OUTCOMES))
    money = _money(report)
    sent = report[report["outcome"].isin(CHARGED_OUTCOMES + RELEASED_OUTCOMES)]
    by_reward = _breakdown(sent, ["utid", "reward_name", "currency"])
    by_method = _breakdown(sent, ["delivery_method", "currency"])
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
    sent = report[report["outcome"].isin(CHARGED_OUTCOMES + RELEASED_OUTCOMES)]
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
    original: pd.DataFrame, report: pd.DataFrame, ledger_orders: list[dict[str, Any]]
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
    sent = report[report["outcome"].isin(CHARGED_OUTCOMES + RELEASED_OUTCOMES)]
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
        tango = sum(
            (
                Decimal(o["charged_total"])
                for o in ledger_orders
                if o["external_ref_id"] in ours and o.get("charged_total") is not None
            ),
            Decimal(0),
        )
        reported = [o for o in ledger_orders if o["external_ref_id"] in ours]
        if all(o.get("charged_total") is not None for o in reported) and charged.sum() != tango:
            problems.append(f"line charges add up to {charged.sum()}, Tango's orders to {tango}")
    return problems


def assert_balanced(result: Reconciliation) -> None:
    if not result.balanced:
        raise BooksDoNotBalanceError("the books do not balance: " + "; ".join(result.discrepancies))
