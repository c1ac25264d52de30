"""What the report step costs per row: a realistic file's rows planned and recorded in a
SQLite ledger, every line then marked as Tango accepted and completed it, and the report made
from the ledger as the flow makes it (who holds each line, this batch's lines and orders, the
reconciliation). Prints wall seconds and the Python heap's peak (tracemalloc) for each part.

    .venv/bin/python bench/report_step.py --rows 100000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa
from sqlalchemy import update

from bench.figures import record
from bench.generate import generate
from raas import Catalog
from rewards import steps
from rewards.ledger import Ledger, LineState, line_items
from rewards.reconcile import Mode, reconcile
from rewards.validation import validate

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]


def measured(step: str, label: str, work: Callable[[], T]) -> T:
    """Timed untraced (tracemalloc slows Python down several times), then done again traced
    for the heap's peak; the traced result is kept, and what it holds (Python and Arrow) is printed."""
    tracemalloc.stop()
    start = time.perf_counter()
    work()
    took = time.perf_counter() - start
    tracemalloc.start()
    before, arrow = tracemalloc.get_traced_memory()[0], pa.total_allocated_bytes()
    out = work()
    now, peak = tracemalloc.get_traced_memory()
    arrow = pa.total_allocated_bytes() - arrow  # Arrow's memory is not Python's heap
    kept, peak = (now - before + arrow) / 2**20, (peak - before) / 2**20

    print(f"  {label:<26} {took:6.2f} s   peak +{peak:6.1f} MiB   kept {kept:6.1f} MiB")
    record(step, f"{label} s", took)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    step = f"report step, {args.rows:,} rows"

    catalog = Catalog.model_validate_json((ROOT / "data/sandbox/catalog.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "recipients.csv"
        generate(source, args.rows, profile="realistic")
        book = Ledger(f"sqlite:///{tmp}/ledger.db")
        ctx = steps.Context(book=book, client_for=lambda _: None)  # type: ignore[arg-type,return-value]
        sheet = steps.load(source, None, confined=False)
        validated = validate(sheet.frame, catalog, "USD")
        plan = steps.plan(
            ctx, validated.valid, account="a", customer="c", chunk_size=250, wait_until=None
        )
        steps.record(ctx, plan, sheet, lease_seconds=300)
        with book.engine.begin() as conn:  # as if Tango took and completed every line
            conn.execute(
                update(line_items)
                .where(line_items.c.batch_id == plan.batch)
                .values(state=LineState.SUBMITTED, line_item_status="COMPLETE", charged="1.00")
            )
        print(f"report step, {args.rows:,} rows ({len(validated.valid):,} valid), SQLite ledger")
        tracemalloc.start()
        holders = measured(
            step,
            "who holds each line",
            lambda: book.holder_table("a", plan.line_ids.array, plan.recipients.array),
        )
        lines = measured(step, "this batch's lines", lambda: book.line_table(plan.batch))

        orders = measured(step, "this batch's orders", lambda: book.batch_orders(plan.batch))
        result = measured(
            step,
            "reconcile",
            lambda: reconcile(
                original=sheet.frame,
                rejected=validated.rejected,
                valid=plan.rows,
                batch=plan.batch,
                holders=holders,
                ledger_lines=lines,
                ledger_orders=orders,
                mode=Mode.SEND,
                extra_columns=sheet.unknown_columns,
            ),
        )
        print(f"  {result.counts['complete']:,} complete")
        tracemalloc.stop()


if __name__ == "__main__":
    main()
