"""What a run tells the person who started it: the cost before, the counts after, one line."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from .errors import RewardsError


@dataclass(frozen=True)
class CostPreview:
    """What the rows not yet at Tango would cost, against the account's balance."""

    currency: str
    cost: Decimal
    balance: Decimal
    rows: int  # rows it covers (this run's to send)
    account: str = ""
    covers: str = "row(s) to send"  # what the rows are ("action(s) charged", for actions)

    @property
    def shortfall(self) -> Decimal:
        return max(self.cost - self.balance, Decimal(0))

    def text(self) -> str:
        return (
            f"{self.rows} {self.covers} for {self.cost:,.2f} {self.currency}; balance "
            f"{self.balance:,.2f} {self.currency}"
            + (f", short by {self.shortfall:,.2f}" if self.shortfall else "")
        )


@dataclass(frozen=True)
class RunSummary:
    batch: str
    report_dir: str
    counts: dict[str, int]
    files: list[str] = field(default_factory=list)
    balanced: bool | None = None  # None: nothing was sent (a dry run, or a gate stopped it)
    cost: CostPreview | None = None
    dry_run: bool = False
    note: str | None = None
    sent_earlier: int = 0  # rows of the batch an earlier run had sent before this one began

    def flat(self) -> dict[str, object]:
        """One level: the counts beside the batch, folder, books and cost (scripts, tests)."""
        return {
            "batch": self.batch,
            "report_dir": self.report_dir,
            "balanced": self.balanced,
            "dry_run": self.dry_run,
            "cost": self.cost,
            "sent_earlier": self.sent_earlier,
            **self.counts,
        }

    def line(self) -> str:
        """ "44 sent, 1 failed, 4 rejected" — the counts that are not zero, in a fixed order."""
        c = self.counts
        failed = c.get("failed", 0) + c.get("rejected_by_tango", 0)
        parts = [
            ("would be sent", c.get("would_send", 0)),
            ("sent before", c.get("sent_before", 0)),
            ("sent", c.get("complete", 0)),
            ("pending", c.get("pending", 0)),
            ("scheduled", c.get("scheduled", 0)),
            ("failed", failed),
            ("cancelled", c.get("cancelled", 0)),  # a person cancelled it (and was refunded)
            ("already sent", c.get("already_sent", 0)),
            ("being sent by another run", c.get("being_sent", 0)),
            ("not sent", c.get("not_submitted", 0)),
            ("rejected", c.get("rejected", 0)),
        ]
        said = ", ".join(f"{n} {what}" for what, n in parts if n) or "no rows"
        if self.sent_earlier and self.sent_earlier >= c.get("submitted", 0):
            return f"nothing new sent (an earlier run of this batch sent them): {said}"
        return said


class RunStoppedError(RewardsError):
    """A run that ended before sending (a gate, a refusal, a timeout): the message says why,
    ``summary`` what was found. Carried as a failed state's data, so no dict is needed."""

    def __init__(self, message: str, summary: RunSummary) -> None:
        super().__init__(message)
        self.summary = summary


def summary_of(result: object) -> RunSummary | None:
    """The summary a run's final state carries: its result, or its stopping error's."""
    found = getattr(result, "summary", result)
    return found if isinstance(found, RunSummary) else None


def warning_lines(warnings: pd.DataFrame, limit: int = 20) -> list[str]:
    """The rows that are valid but should be looked at (the same recipient and reward at
    another amount, a time not sent...), one line each, as validate, a run and its log say
    them."""
    if not len(warnings):
        return []
    lines = [f"{len(warnings)} warning(s); these rows are valid and go on:"]
    lines += [
        f"  row {w.row_number}: {w.column}: {w.reason}" for w in warnings.head(limit).itertuples()
    ]
    if len(warnings) > limit:
        lines.append(f"  ... and {len(warnings) - limit} more (warnings.csv)")
    return lines


def problem_lines(problems: pd.DataFrame, limit: int = 50) -> tuple[list[str], int]:
    """The rows' problems to print, a reason many rows share said once with their rows
    ("rows 2, 3, 4 and 9 more: email: ..."): a column the file lacks is one line, not one
    per row. In the order the rows first have them; at most ``limit`` lines, and how many
    problems they leave unsaid."""
    groups = problems.groupby(["column", "reason"], sort=False)["row_number"]
    lines, said = [], 0
    for (column, reason), rows in itertools.islice(groups, limit):
        said += len(rows)
        numbers = rows.tolist()
        shown = ", ".join(str(n) for n in numbers[:ROWS_SHOWN])
        more = f" and {len(numbers) - ROWS_SHOWN} more" if len(numbers) > ROWS_SHOWN else ""
        which = f"rows {shown}{more}" if len(numbers) > 1 else f"row {shown}"
        lines.append(f"{which}: {column}: {reason}")
    return lines, len(problems) - said


ROWS_SHOWN = 5
