"""Approval: a run above its threshold pauses until a person approves or rejects it in the
Prefect UI (the Resume dialog's form), cancels the run, or the deadline passes.

The form holds only what the person decides: the decision (no default decides for them), their
name, a note. The deadline is the flow's own (the pause's timeout), not a field, and the server
refuses any field the form does not have. Every outcome is a note in the ledger's audit trail,
a Cancel click too: it is a rejection without a name.
"""

from __future__ import annotations

import json
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from prefect import get_run_logger, runtime
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.input import RunInput, keyset_from_paused_state
from prefect.logging.loggers import flow_run_logger
from prefect.states import Paused, Running, State
from prefect.utilities.engine import propose_state_sync
from pydantic import Field, StringConstraints, ValidationError, field_validator

from rewards import export
from rewards.planning import Plan
from rewards.summary import CostPreview
from rewards.validation import Validated
from tasks.report import markdown_text
from tasks.tango import ledger

# control and invisible format characters (zero-width spaces, direction marks...): a name
# made of them, or hiding them, says nothing about who decided
INVISIBLE = r"\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff"
# checked by the server as the form is sent (so the dialog refuses it): visible characters
# only, at least one of them not a space
VISIBLE = rf"^[^{INVISIBLE}]*[^\s{INVISIBLE}][^{INVISIBLE}]*$"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=VISIBLE)
]
# the audit trail's notes about a question (kinds)
ASKED, APPROVED, REJECTED, TIMED_OUT, CANCELLED = (
    "awaiting approval",
    "approved",
    "rejected",
    "approval timed out",
    "cancelled while awaiting approval",
)


class ApprovalForm(RunInput):
    """Approve or reject sending these rewards."""

    decision: Literal["approve", "reject"] = Field(
        description="approve: go ahead as asked above; reject: nothing is sent or done"
    )
    approver: Name = Field(description="Your name (recorded in the report and the ledger)")
    note: str = Field("", max_length=2000, description="Why (optional; recorded too)")

    @field_validator("approver")
    @classmethod
    def _a_name(cls, value: str) -> str:
        """A name has a letter or a digit in it (whatever the server's pattern let through)."""
        if not any(unicodedata.category(c)[0] in "LN" for c in value):
            raise ValueError("the approver's name needs at least one letter")
        return value


@dataclass(frozen=True)
class Verdict:
    approved: bool
    approver: str | None
    note: str
    at: str  # when it was decided (UTC)
    cost: CostPreview
    timed_out: bool = False
    cancelled: bool = False  # the run was cancelled (the UI's Cancel) while it waited

    @property
    def kind(self) -> str:
        if self.timed_out:
            return TIMED_OUT
        if self.cancelled:
            return CANCELLED
        return APPROVED if self.approved else REJECTED

    def text(self) -> str:
        if self.timed_out:
            return (
                f"approval timed out at {self.at}: nobody approved {self.cost.cost:,.2f} "
                f"{self.cost.currency}; nothing was sent"
            )
        if self.cancelled:
            return (
                f"cancelled at {self.at} while awaiting approval of {self.cost.cost:,.2f} "
                f"{self.cost.currency}; nothing was sent"
            )
        verdict = "approved" if self.approved else "rejected"
        said = f": {self.note}" if self.note else ""
        tail = "" if self.approved else "; nothing was sent"
        return (
            f"{verdict} by {self.approver} at {self.at} for {self.cost.cost:,.2f} "
            f"{self.cost.currency}{said}{tail}"
        )


def question(
    plan: Plan, cost: CostPreview, validated: Validated, limit: Decimal, source: str = ""
) -> str:
    read = f"From `{Path(source).name}`: " if source else ""
    return (
        f"**Approve sending {cost.rows} rewards for {cost.cost:,.2f} {cost.currency}?**\n\n"
        f"{read}balance {cost.balance:,.2f} {cost.currency}; {len(validated.rejected)} rows "
        f"rejected (not sent), {len(plan.already_sent)} sent before, {len(plan.busy)} being "
        f"sent by another run. Batch `{plan.batch}`; approval needed above {limit:,.2f} "
        f"{cost.currency}." + _warned(validated)
    )


def _warned(validated: Validated, shown: int = 10) -> str:
    """The rows sent with a warning (the same recipient and reward at another amount...):
    what the approver should look at before paying for them."""
    warnings = validated.warnings
    if not len(warnings):
        return ""
    rows = [
        f"- row {w.row_number}: {w.column}: {w.reason}" for w in warnings.head(shown).itertuples()
    ]
    more = (
        f"\n- ...and {len(warnings) - shown} more (warnings.csv)" if len(warnings) > shown else ""
    )
    return f"\n\n{len(warnings)} warning(s) on rows that are sent:\n" + "\n".join(rows) + more


def ask(
    plan: Plan,
    cost: CostPreview,
    validated: Validated,
    limit: Decimal,
    timeout_seconds: int,
    source: str = "",
) -> Verdict:
    """Show the question on the run's page, pause for the form, record the verdict."""
    text = question(plan, cost, validated, limit, source)

    return ask_about(plan.batch, text, cost, validated.problems, timeout_seconds)


def ask_about(
    batch: str, text: str, cost: CostPreview, problems: pd.DataFrame, timeout_seconds: int
) -> Verdict:
    """Pause ``batch``'s run on ``text`` (markdown) until a person decides or the deadline;
    the verdict goes into the ledger's audit trail. ``problems``: rejected rows, shown beside
    the question (not part of what is approved)."""
    key = f"approval-{batch.lower()}"
    create_markdown_artifact(text, key=key, description="Waiting for approval")
    if len(problems):
        create_table_artifact(
            export.table_rows(problems.head(200)),
            key=f"{key}-problems",
            description="Rejected rows (not part of what is approved)",
        )
    logger = get_run_logger()
    logger.info("Waiting for approval (up to %d s): %s", timeout_seconds, text.replace("**", ""))
    # the page stands alone on its line: a comma after it became part of the link the UI
    # made of it ("Page not found")
    logger.info(
        "To answer, press Resume on the run's page, choose approve or reject and give your "
        "name:\n%s",
        _run_page(),
    )
    asked = {
        "cost": str(cost.cost),
        "currency": cost.currency,
        "flow_run": str(runtime.flow_run.id),
    }
    ledger().note(batch, ASKED, None, asked)

    verdict = _wait_for_answer(text, cost, time.monotonic() + timeout_seconds)
    ledger().note(batch, verdict.kind, verdict.approver, {**asked, "note": verdict.note})
    said = verdict.text()[:1].upper() + verdict.text()[1:]
    create_markdown_artifact(markdown_text(said), key=key, description="Approval: decided")
    logger.info("%s", said)
    return verdict


def _wait_for_answer(question: str, cost: CostPreview, deadline: float) -> Verdict:
    """Pause until a valid answer or the deadline; an answer the form let through but that is
    not valid after all (a name of invisible letters) is refused, and the run asks again."""
    while True:
        left = int(deadline - time.monotonic())
        try:
            if left < 1:
                raise FlowPauseTimeout("no time left")
            form = _paused_for(ApprovalForm.with_initial_data(description=question), left)
        except FlowPauseTimeout:
            verdict = Verdict(False, None, "", _now(), cost, timed_out=True)
            _running_again(verdict.text())
            return verdict
        except _CancelledError:
            return Verdict(False, None, "", _now(), cost, cancelled=True)
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            get_run_logger().warning("An answer was refused (%s); asking again", problem)
            continue
        return Verdict(
            approved=form.decision == "approve",
            approver=form.approver,
            note=form.note.strip(),
            at=_now(),
            cost=cost,
        )


class _CancelledError(Exception):
    """The run was cancelled while it waited."""


def _paused_for(form: type[ApprovalForm], timeout: int) -> ApprovalForm:
    """Pause this run for ``form`` as ``prefect.flow_runs.pause_flow_run`` does (its pieces:
    the Paused state with a key, the form's schema saved under the pause's keyset, the answer
    loaded from it), but also stop waiting when the run is cancelled: Prefect's own loop keeps
    polling a cancelled run until its timeout, and a run started by ``rewards run`` has no
    runner to stop it. Raises FlowPauseTimeout or _CancelledError."""
    run = FlowRunContext.get()
    assert run is not None and run.flow_run is not None
    proposed = Paused(timeout_seconds=timeout, reschedule=False, pause_key=uuid.uuid4().hex)
    keyset = keyset_from_paused_state(proposed)
    proposed.state_details.run_input_keyset = keyset
    with get_client(sync_client=True) as client:
        state = propose_state_sync(client=client, state=proposed, flow_run_id=run.flow_run.id)
        if not state.is_paused():
            raise RuntimeError(f"the run could not pause for approval: it is {state.name}")
        form.save(keyset)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(1)
            now = client.read_flow_run(run.flow_run.id).state
            if now is not None and now.is_running():
                return form.load(keyset)
            if now is not None and (now.is_cancelling() or now.is_cancelled()):
                raise _CancelledError()
    raise FlowPauseTimeout("paused and never resumed")


def earlier_approval(batch: str) -> str | None:
    """Who approved sending ``batch`` in an earlier run, as the audit trail says: a rerun
    that finds every row sent asks nobody, and its report still says who decided."""
    approved = [n for n in ledger().audit_trail(batch) if n["kind"] == APPROVED]
    if not approved:
        return None
    last = approved[-1]
    detail = json.loads(last["detail"] or "{}")
    note = f": {detail['note']}" if detail.get("note") else ""
    return (
        f"approved earlier by {last['actor']} at {last['at']} for "
        f"{Decimal(detail.get('cost', '0')):,.2f} {detail.get('currency', '')}{note}"
    )


def cancelled_while_waiting(flow: Any, flow_run: Any, state: State[Any]) -> None:
    """``on_cancellation``: a run cancelled while it waited for approval, when its process was
    stopped before it could say so itself (the runner of ``rewards serve`` or a worker stops
    the process, then calls this): the audit trail records the cancellation as the answer."""
    last = ledger().last_note_of_run(str(flow_run.id))
    if not last or last["kind"] not in (ASKED, CANCELLED):
        return  # it was not waiting
    detail = json.loads(last["detail"])
    if last["kind"] == ASKED:  # else the run noted it, but was stopped before it could end
        ledger().note(last["batch_id"], CANCELLED, None, detail)

    said = (
        f"Cancelled at {_now()} while awaiting approval of {Decimal(detail['cost']):,.2f} "
        f"{detail['currency']}; nothing was sent (run the same file again to be asked again)"
    )
    # on the run's page, and in its log (the runner then sets Prefect's own state message)
    flow_run_logger(flow_run).warning("%s", said)
    with get_client(sync_client=True) as client:
        client.create_artifact(
            ArtifactCreate(
                key=f"approval-{last['batch_id'].lower()}",
                type="markdown",
                data=markdown_text(said),
                description="Approval: cancelled",
                flow_run_id=flow_run.id,
            )
        )


def _running_again(message: str) -> None:
    """Past its pause deadline Prefect refuses every transition but Failed; this run has its
    own ending to tell (cancelled, with a report), so it takes itself out of the pause."""
    run = FlowRunContext.get()
    assert run is not None and run.flow_run is not None
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.flow_run.id, Running(message=message), force=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _run_page() -> str:
    """Where a person answers: this run's page in the Prefect UI."""
    from prefect.settings import PREFECT_UI_URL

    run_id = runtime.flow_run.id
    base = PREFECT_UI_URL.value()
    return f"{base}/runs/flow-run/{run_id}" if base else f"flow run {run_id} in the Prefect UI"
