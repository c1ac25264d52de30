"""A run of fulfil-rewards in this process, told on the terminal: a progress bar while it
sends, then its state, counts, cost and report folder (and, for a dry run, what went before)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect.client.schemas.objects import State

from rewards import progress, sources
from rewards.summary import RunStoppedError, RunSummary, summary_of


def run_and_print(params: dict[str, Any], point_at_fixes: bool = True) -> int:
    """Run the flow on ``params``: exit 0 when it completed, 1 when it stopped before or
    after sending (a gate, an approval refused, books that do not balance), 2 when it could
    not work (the file, Tango, a setting). The file it names is the local user's own, so it
    is allowed whatever the source roots say. ``point_at_fixes``: say where the failed
    deliveries are to fix (the demo says it its own way)."""

    from flows.fulfil_rewards import fulfil_rewards

    sources.allow(params["source_path"])
    with progress.watching(progress.TerminalBar()):
        state = fulfil_rewards(**params, return_state=True)
    result = state.result(raise_on_failure=False)
    summary = summary_of(result)
    cost = summary.cost.text() if summary and summary.cost else None
    _said(state, summary, "batch", cost, shown=lambda key, value: bool(value) or key in ALWAYS)
    if summary and summary.dry_run:
        print_sent_before(Path(summary.report_dir) / "report.csv")
    if summary:
        print_warnings(Path(summary.report_dir) / "warnings.csv")
    bounced = Path(summary.report_dir) / "failed_deliveries.csv" if summary else None
    if bounced and bounced.is_file() and point_at_fixes:
        print(
            f"  failed deliveries: type the right contact in new_email / new_mobile_number of "
            f"{bounced}, then run `rewards manage` on it"
        )

    if state.is_completed():  # rejected rows are in the report (rejected_rows.csv)
        return 0

    # 1: the run looked at the rows and stopped (a gate, a refusal, the books); 2: it could
    # not work at all (the file, Tango or a setting), as `rewards validate` says it

    return 1 if isinstance(result, RunStoppedError) else 2


ALWAYS = ("rows_in", "submitted")  # a send's counts shown even when 0


def _said(
    state: State,
    summary: RunSummary | None,
    label: str,
    cost: str | None,
    shown: Callable[[str, int], bool],
) -> None:
    """A run's ending as a terminal shows it: its state and message, then its batch, the
    counts ``shown`` picks, its cost and where its report is."""
    print(f"\n{state.name}: {state.message or ''}".rstrip())
    if summary is None:
        return
    print(f"  {label:13} {summary.batch}")
    for key, value in summary.counts.items():
        if shown(key, value):
            print(f"  {key:13} {value}")
    if cost:
        print(f"  {'cost':13} {cost}")
    print(f"  {'report_dir':13} {summary.report_dir}")


def print_warnings(table: Path) -> None:
    """The valid rows the run sent (or would send) with a warning, from its report."""
    import pandas as pd

    from rewards.summary import warning_lines

    if table.is_file():
        for line in warning_lines(pd.read_csv(table, dtype=str, keep_default_na=False)):
            print(line)


def print_sent_before(report: Path, limit: int = 20) -> None:
    """A dry run's rows that went out before (or are going out now), where and when."""
    import pandas as pd

    frame = pd.read_csv(report, dtype=str, keep_default_na=False)
    earlier = frame[frame["outcome"].isin(["sent_before", "being_sent"])]
    if earlier.empty:
        return
    print(f"rows sent before ({len(earlier)}):")
    for row in earlier.head(limit).itertuples():
        print(f"  row {row.row_number}: {row.reason}")
    if len(earlier) > limit:
        print(f"  ... and {len(earlier) - limit} more (see {report})")


def manage_and_print(params: dict[str, Any]) -> int:
    """Run manage-rewards on ``params``: exit 0 when every valid action was done (or done
    before; invalid rows are listed to fix, as ``rewards run`` lists rejected rows), 1 when
    no row was valid, Tango refused some, or the run stopped (the balance, an approval
    refused), 2 when it could not work (the file, Tango, a setting)."""
    from flows.manage_rewards import manage_rewards

    sources.allow(params["source_path"])
    state = manage_rewards(**params, return_state=True)
    result = state.result(raise_on_failure=False)
    summary = summary_of(result)
    price = summary.cost if summary and summary.cost and summary.cost.cost else None
    # what the actions took from the balance, net of what they gave back (a cancel's refund)
    cost = f"{price.cost:,.2f} {price.currency} (net of refunds)" if price else None
    _said(state, summary, "actions", cost, shown=lambda key, value: True)
    if summary:
        print_actions(Path(summary.report_dir) / "actions_report.csv")
    if isinstance(result, RunStoppedError):
        return 1
    if state.is_completed():
        return 0
    return 2


def print_actions(report: Path, limit: int = 20) -> None:
    """Each row that was not done, with why (Tango's reason, or what to fix)."""
    import pandas as pd

    if not report.is_file():
        return
    frame = pd.read_csv(report, dtype=str, keep_default_na=False)
    trouble = frame[~frame["outcome"].isin(["done", "done_before", "would_do"])]
    if len(trouble):
        print(f"rows not done ({len(trouble)}; row numbers are the actions file's):")
    for row in trouble.head(limit).itertuples():
        print(f"  row {row.row_number}: {row.action} {row.line_id}: {row.outcome}: {row.reason}")
    if len(trouble) > limit:
        print(f"  ... and {len(trouble) - limit} more (see {report})")
    warned = frame[(frame["warning"] != "") & ~frame.index.isin(trouble.index)]
    if len(warned):
        print(f"warning(s) ({len(warned)}; these rows are valid):")
    for row in warned.head(limit).itertuples():
        print(f"  row {row.row_number}: {row.action} {row.line_id}: {row.warning}")
