"""Publishing a run's report: the files first (the record), then the artifacts (the view)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from rewards import export, links, steps
from rewards.inbox import uploaded_name
from rewards.managing import REPORT_COLUMNS
from rewards.params import RewardsSettings
from rewards.reconcile import Reconciliation
from rewards.summary import CostPreview
from rewards.validation import Validated

ARTIFACT_ROWS = 500  # the UI struggles with huge tables; the files hold everything


def markdown_text(text: object) -> str:
    """Text from a person or a file, shown in markdown as the letters it is: no emphasis,
    links, images, HTML or line breaks of its own (an approver's name, a note, a file name)."""
    flat = " ".join(str(text).split())
    return re.sub(r"([\\`*_\[\]|<>&~])", r"\\\1", flat)  # inline text: no line starts


def summary_markdown(
    title: str,
    result: Reconciliation,
    source: str,
    folder: Path | None,
    cost: CostPreview | None = None,
    note: str | None = None,
    books: bool = True,
) -> str:
    c = result.counts
    lines = [f"# {title}", "", f"Source: {markdown_text(uploaded_name(Path(source)))}", ""]
    if note:
        lines += [f"**{markdown_text(note)}**", ""]
    if c["would_send"] or c["sent_before"]:
        head = ["rows in", "rejected", "sent before", "would be sent", "being sent elsewhere"]
        values = [c["rows_in"], c["rejected"], c["sent_before"], c["would_send"], c["being_sent"]]
    else:
        head = ["rows in", "rejected", "already sent", "submitted", "complete", "failed"]
        head += ["cancelled", "pending", "scheduled", "not sent"]
        failed = c["failed"] + c["rejected_by_tango"]
        values = [c["rows_in"], c["rejected"], c["already_sent"], c["submitted"], c["complete"]]
        values += [failed, c["cancelled"], c["pending"], c["scheduled"]]
        values += [c["not_submitted"] + c["being_sent"]]

    lines += [
        "| " + " | ".join(head) + " |",
        "|" + "---:|" * len(head),
        "| " + " | ".join(str(v) for v in values) + " |",
        "",
    ]
    if cost:
        # checked before sending: after a send, "to send" means what this run then set out to do
        lines += [f"Cost checked before sending (rows then not at Tango): **{cost.text()}**.", ""]
    if len(result.money):
        lines += [
            "| currency | requested | charged | released | charged by reissues since |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.currency} | {r.requested:.2f} | {r.charged:.2f} | {r.released:.2f} "
            f"| {r.reissues_charged:.2f} |"
            for r in result.money.itertuples()
        ]

        lines.append("")
    if books:
        refusals = result.counts.get("rejected_by_tango", 0)
        at_tango = (
            f"every valid row is at Tango but the {refusals} it refused, which were not charged"
            if refusals
            else "every valid row is at Tango"
        )
        lines.append(
            f"Books: **balanced** ({at_tango}; the charges match Tango's)"
            if result.balanced
            else "Books: **DO NOT BALANCE** — " + "; ".join(result.discrepancies)
        )

    if folder:
        lines += ["", f"Full report: {markdown_text(folder)}"]
    return "\n".join(lines)


@dataclass(frozen=True)
class ReportView:
    """What the run's page shows of a report: made by the task that writes the files, shown
    by the flow (so the artifacts hang off the flow run, not a task)."""

    key: str
    summary: str
    problems: list[dict[str, Any]]
    problems_total: int
    results: list[dict[str, Any]]
    results_total: int
    files: str
    written: list[str]
    results_title: str = "Who got what"


@task(name="write-report", cache_policy=NO_CACHE)
def write_report(
    result: Reconciliation,
    validated: Validated,
    source: str,
    folder: Path,
    key: str,
    *,
    title: str,
    cost: CostPreview | None = None,
    note: str | None = None,
    books: bool = True,
    results_title: str = "Who got what",
) -> ReportView:
    """The report's files (the record), and what the run's page will show of them. ``key``
    names the artifacts (``fulfil-<batch>``, or ``dry-run-<batch>`` so a preview never
    replaces a real batch's)."""
    written = steps.write_report_files(result, validated, folder)
    if len(result.report) > export.XLSX_MAX_ROWS:
        skipped = f"report.xlsx not written for {len(result.report):,} rows: open report.csv"
        note = f"{note}; {skipped}" if note else skipped
    markdown = summary_markdown(title, result, source, folder, cost, note, books)
    (folder / "summary.md").write_text(markdown)
    get_run_logger().info("Report written to %s", folder)
    problems = validated.problems.head(ARTIFACT_ROWS)
    view = export.who_got_what(result.report.head(ARTIFACT_ROWS))
    return ReportView(
        key=key,
        summary=markdown,
        problems=export.table_rows(problems),
        problems_total=len(validated.problems),
        results=export.table_rows(view),
        results_total=len(result.report),
        files=files_markdown(folder, written),
        written=[str(p) for p in written],
        results_title=results_title,
    )


def show_report(view: ReportView) -> None:
    """The report on the run's page: summary, problems, who got what, the files."""
    create_markdown_artifact(view.summary, key=f"{view.key}-summary", description="Run summary")
    if view.problems:
        create_table_artifact(
            view.problems,
            key=f"{view.key}-problems",
            description=f"Rejected rows: first {len(view.problems)} of {view.problems_total} "
            "problems",
        )
    create_table_artifact(
        view.results,
        key=f"{view.key}-results",
        description=f"{view.results_title}: first {len(view.results)} of {view.results_total} rows "
        "(contacts masked; the files hold all rows)",
    )
    create_markdown_artifact(view.files, key=f"{view.key}-files", description="Report files")


def files_markdown(folder: Path, written: list[Path]) -> str:
    """The report's files as links a browser opens (signed, expiring; see rewards.links),
    when a report file server is configured and the folder is one of its batches."""
    settings = RewardsSettings()
    names = sorted({p.name for p in written} | {"summary.md"})
    lines = [
        "# Report files",
        "",
        f"Folder {markdown_text(folder)} on the machine that ran it.",
        "",
    ]

    served = settings.reports_url and settings.reports_key
    if not served or folder.resolve().parent != settings.reports_dir.resolve():
        return "\n".join([*lines, *(f"- `{n}`" for n in names)])
    assert settings.reports_key is not None and settings.reports_url is not None
    key = links.decode_key(settings.reports_key.get_secret_value())
    hours = settings.reports_link_hours
    for name in names:
        if name in links.FILES:
            url = links.sign(settings.reports_url, key, folder.name, name, hours)
            lines.append(f"- [{name}]({url})")
    lines += ["", f"Links work for {hours:g} hours; `rewards links {folder.name}` makes new ones."]
    return "\n".join(lines)


# the run page's table: the report's columns but the ids only Tango and the ledger need
ACTION_VIEW = [c for c in REPORT_COLUMNS if c not in ("external_ref_line_item_id", "action_id")]


def actions_markdown(
    title: str,
    report: pd.DataFrame,
    source: str,
    folder: Path,
    cost: CostPreview | None,
    note: str | None,
) -> str:
    counts = report["outcome"].value_counts()
    head = ["rows in", "invalid", "done", "done before", "refused by Tango", "not done"]
    keys = ["invalid", "done", "done_before", "refused", "not_done"]
    if counts.get("failed_again", 0):
        head, keys = [*head, "failed again"], [*keys, "failed_again"]

    if counts.get("would_do", 0):
        head, keys = [*head, "would be done"], [*keys, "would_do"]
    values = [len(report), *(int(counts.get(k, 0)) for k in keys)]
    lines = [f"# {title}", "", f"Source: {markdown_text(uploaded_name(Path(source)))}", ""]
    if note:
        lines += [f"**{markdown_text(note)}**", ""]
    lines += [
        "| " + " | ".join(head) + " |",
        "|" + "---:|" * len(head),
        "| " + " | ".join(str(v) for v in values) + " |",
        "",
    ]
    if cost and cost.cost:
        lines += [
            f"Reissues and resends of failed lines: **{cost.cost:,.2f} {cost.currency}** "
            f"(balance {cost.balance:,.2f} {cost.currency}).",
            "",
        ]
    return "\n".join([*lines, f"Full report: {markdown_text(folder)}"])


@task(name="write-actions-report", cache_policy=NO_CACHE)
def write_actions_report(
    report: pd.DataFrame,
    rejected: pd.DataFrame,
    problems: pd.DataFrame,
    source: str,
    folder: Path,
    key: str,
    *,
    title: str,
    cost: CostPreview | None = None,
    note: str | None = None,
) -> ReportView:
    """A run of actions' files (every row: done, done before, refused with Tango's reason,
    invalid with its problems) and what the run's page shows of them (contacts masked)."""
    written = export.write_table(report, folder, "actions_report")
    written += export.write_if_any(rejected, folder, "rejected_actions")  # to fix and upload

    markdown = actions_markdown(title, report, source, folder, cost, note)
    (folder / "summary.md").write_text(markdown)
    get_run_logger().info("Report written to %s", folder)
    view = report[ACTION_VIEW].head(ARTIFACT_ROWS)
    return ReportView(
        key=key,
        summary=markdown,
        problems=export.table_rows(problems.head(ARTIFACT_ROWS)),
        problems_total=len(problems),
        results=export.table_rows(view),
        results_total=len(report),
        files=files_markdown(folder, written),
        written=[str(p) for p in written],
        results_title="What was done",
    )
