"""Approval: a batch over the threshold pauses for a form in the UI. Every answer a person can
submit goes through the API the UI's Resume dialog calls (POST /flow_runs/{id}/resume)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType

from flows.fulfil_rewards import fulfil_rewards
from rewards.summary import summary_of
from tests.flows.conftest import recipients, write_csv
from tests.helpers import artifacts_of, wait_for


def start(path: Path, **params: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}
    params = {"approval_threshold": "20", **params}

    def go() -> None:
        state = fulfil_rewards(
            source_path=str(path), poll_interval_seconds=0.1, **params, return_state=True
        )
        box["state"], box["out"] = state, summary_of(state.result(raise_on_failure=False))

    thread = threading.Thread(target=go)
    thread.start()
    return thread, box


def paused_run_of(path: Path) -> Callable[[], Any]:
    """The paused run sending ``path`` (the session's Prefect server holds other tests' paused
    runs too: an upload's waiting run of another test was once answered here)."""

    def find() -> Any:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                )
            )
        return next((r.id for r in runs if r.parameters.get("source_path") == str(path)), None)

    return find


def answer(api: str, run_id: Any, run_input: dict[str, Any]) -> dict[str, Any]:
    """What the UI's Resume dialog sends, over HTTP (sent again, as a person would, when the
    test server's SQLite database is busy and answers 503)."""
    for _ in range(10):
        response = httpx.post(f"{api}/flow_runs/{run_id}/resume", json={"run_input": run_input})
        if response.status_code != 503:
            break
        time.sleep(0.5)
    response.raise_for_status()
    return response.json()


def sent(sandbox, campaign: str) -> int:
    with sandbox.engine.store.tx() as c:
        return c.execute("SELECT COUNT(*) FROM orders WHERE campaign=?", (campaign,)).fetchone()[0]


def artifacts_by_key(run_id: Any) -> dict[str, str]:
    return {a.key or "": str(a.data) for a in artifacts_of(run_id)}


def test_approve_sends_and_everything_says_who_when_and_how_much(
    env: Path, sandbox, campaign, prefect_server: str
) -> None:
    path = write_csv(env / "a.csv", recipients(campaign, 5))
    thread, box = start(path)  # 25.00 > 20
    run_id = wait_for(paused_run_of(path), timeout=30)
    assert sent(sandbox, campaign) == 0  # nothing goes out while it waits
    question = next(v for k, v in artifacts_by_key(run_id).items() if k.startswith("approval-"))
    assert "25.00 USD" in question and "balance" in question  # on the paused run's page
    assert "From `a.csv`" in question  # which file is approved

    reply = answer(
        prefect_server, run_id, {"decision": "approve", "approver": "Grace", "note": "Q4 ok"}
    )
    assert reply["status"] == "ACCEPT"
    thread.join(60)
    state, out = box["state"], box["out"]
    assert state.is_completed(), state.message
    assert out.counts["complete"] == 5
    summary = (Path(out.report_dir) / "summary.md").read_text()
    assert "approved by Grace at " in summary and "for 25.00 USD: Q4 ok" in summary
    assert "5 sent" in state.message and "approved by Grace at " in state.message


def test_a_rerun_of_an_approved_batch_still_says_who_approved_it(
    env: Path, sandbox, campaign, prefect_server: str
) -> None:
    """Retry (or the same file again) finds every row sent, so it asks nobody; its report
    still says who approved the batch's sending, and when."""
    path = write_csv(env / "again.csv", recipients(campaign, 5))
    thread, box = start(path)
    run_id = wait_for(paused_run_of(path), timeout=30)
    answer(prefect_server, run_id, {"decision": "approve", "approver": "Grace"})
    thread.join(60)
    assert box["state"].is_completed()
    thread, box = start(path)
    thread.join(60)
    state = box["state"]
    assert state.is_completed() and "approved earlier by Grace at " in state.message
    summary = (Path(box["out"].report_dir) / "summary.md").read_text()
    assert "approved earlier by Grace at " in summary and "25.00 USD" in summary


def test_reject_sends_nothing_and_says_who(env: Path, sandbox, campaign, prefect_server) -> None:

    path = write_csv(env / "r.csv", recipients(campaign, 5))
    thread, box = start(path)
    run_id = wait_for(paused_run_of(path), timeout=30)
    answer(prefect_server, run_id, {"decision": "reject", "approver": "Alan", "note": "too much"})
    thread.join(60)
    state = box["state"]
    assert state.is_cancelled()
    assert "rejected by Alan at " in state.message and "too much" in state.message
    assert "nothing was sent" in state.message
    assert sent(sandbox, campaign) == 0
    summary = (Path(box["out"].report_dir) / "summary.md").read_text()
    assert "rejected by Alan" in summary
    counts = box["out"].counts  # nothing was submitted, so nothing "failed" either
    assert (counts["submitted"], counts["failed"], counts["not_submitted"]) == (0, 0, 5)


@pytest.mark.parametrize(
    "forms",
    [
        {},  # Submit with nothing chosen: no default decides for the person
        {"approver": "Grace", "note": "x"},  # no decision
        {"decision": "approve"},  # no name
        {"decision": "approve", "approver": "   "},  # a blank name
        {"decision": "yes", "approver": "Grace"},  # not a decision
        {"decision": "approve", "approver": "Grace", "timed_out": True},  # a forged field
        {"decision": "approve", "approver": "\u200b\u2060"},  # invisible letters
        {"decision": "approve", "approver": "Grace\u202e"},  # hiding a direction override
        {"approve": True, "approver": "Grace"},  # the old form's field
    ],
)
def test_incomplete_or_forged_answers_are_refused_and_the_run_keeps_waiting(
    env: Path, sandbox, campaign, prefect_server, forms: dict[str, Any]
) -> None:
    path = write_csv(env / "f.csv", recipients(campaign, 5))
    thread, box = start(path)
    run_id = wait_for(paused_run_of(path), timeout=30)
    reply = answer(prefect_server, run_id, forms)
    assert reply["status"] == "REJECT", reply
    assert paused_run_of(path)() == run_id and sent(sandbox, campaign) == 0
    answer(prefect_server, run_id, {"decision": "reject", "approver": "Alan"})
    thread.join(60)
    assert box["state"].is_cancelled() and "rejected by Alan" in box["state"].message
    assert sent(sandbox, campaign) == 0


def test_cancel_while_waiting_ends_the_run_at_once_and_is_recorded_as_the_answer(
    env: Path, sandbox, campaign, prefect_server: str
) -> None:
    """The run page's Cancel (what it sends: a Cancelling state) on a run `rewards run`
    started: no runner stops its process, so the run itself must notice, end, and say so."""
    from tasks.tango import ledger

    path = write_csv(env / "c.csv", recipients(campaign, 5))
    thread, box = start(path)  # waits up to an hour for an answer
    run_id = wait_for(paused_run_of(path), timeout=30)
    cancel = {"state": {"type": "CANCELLING", "name": "Cancelling"}}
    httpx.post(f"{prefect_server}/flow_runs/{run_id}/set_state", json=cancel).raise_for_status()
    thread.join(30)
    assert not thread.is_alive(), "the run kept waiting after it was cancelled"
    state = box["state"]
    assert state.is_cancelled() and "while awaiting approval of 25.00 USD" in state.message
    assert sent(sandbox, campaign) == 0
    trail = [(e["kind"], json.loads(e["detail"])) for e in ledger().audit_trail(box["out"].batch)]
    asked, cancelled = trail[-2:]
    assert asked == ("awaiting approval", {**asked[1], "flow_run": str(run_id)})
    assert cancelled[0] == "cancelled while awaiting approval"
    summary = (Path(box["out"].report_dir) / "summary.md").read_text()
    assert "while awaiting approval" in summary and "nothing was sent" in summary


def test_rewards_approvals_lists_the_runs_waiting_and_what_each_asks(
    env: Path, sandbox, campaign, prefect_server: str
) -> None:
    import os

    from tests.flows.test_cli_run import rewards

    def approvals() -> tuple[int, str]:
        return rewards("approvals", env={**os.environ, "PREFECT_API_URL": prefect_server})

    path = write_csv(env / "waiting.csv", recipients(campaign, 5))
    thread, _ = start(path)
    run_id = wait_for(paused_run_of(path), timeout=30)
    code, out = approvals()
    assert code == 0, out
    mine = next(line for line in out.splitlines() if "waiting.csv" in line)
    assert "(fulfil-rewards, waiting since " in mine
    assert mine.endswith("Approve sending 5 rewards for 25.00 USD?"), mine
    assert f"/runs/flow-run/{run_id}" in out or f"flow run {run_id}" in out
    answer(prefect_server, run_id, {"decision": "reject", "approver": "Alan"})
    thread.join(60)
    code, out = approvals()
    assert code == 0 and "waiting.csv" not in out, out
    without = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    code, out = rewards("approvals", env=without)
    assert code == 2 and "needs a Prefect server" in out, out


def test_no_answer_times_out_and_sends_nothing(env: Path, sandbox, campaign) -> None:

    thread, box = start(
        write_csv(env / "t.csv", recipients(campaign, 5)), approval_timeout_seconds=2
    )
    thread.join(60)
    assert box["state"].is_cancelled() and "timed out" in box["state"].message
    assert sent(sandbox, campaign) == 0
    summary = (Path(box["out"].report_dir) / "summary.md").read_text()
    assert "approval timed out" in summary


def test_below_the_threshold_no_pause(env: Path, sandbox, campaign) -> None:
    path = write_csv(env / "s.csv", recipients(campaign, 2))
    thread, box = start(path)  # 10.00
    thread.join(60)
    assert box["state"].is_completed() and box["out"].counts["complete"] == 2
    report = pd.read_csv(Path(box["out"].report_dir) / "report.csv", dtype=str)
    assert len(report) == 2


def test_the_installation_floor_applies_whatever_the_run_says(
    env: Path, sandbox, campaign, prefect_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REWARDS_APPROVAL_THRESHOLD", "12")
    path = write_csv(env / "floor.csv", recipients(campaign, 3))
    thread, box = start(path, approval_threshold=0)
    run_id = wait_for(paused_run_of(path), timeout=30)  # 15.00 > 12 although the run asked for none
    answer(prefect_server, run_id, {"decision": "approve", "approver": "Grace"})
    thread.join(60)
    assert box["state"].is_completed() and box["out"].counts["complete"] == 3


def test_what_a_person_typed_is_shown_as_text_not_as_markdown(
    env: Path, sandbox, campaign, prefect_server
) -> None:
    path = write_csv(env / "md.csv", recipients(campaign, 5))
    thread, box = start(path)
    run_id = wait_for(paused_run_of(path), timeout=30)
    answer(
        prefect_server,
        run_id,
        {
            "decision": "reject",
            "approver": "Grace **approved by the CFO** <img src=x onerror=alert(1)>",
            "note": "[click](http://evil.example)",
        },
    )
    thread.join(60)
    summary = (Path(box["out"].report_dir) / "summary.md").read_text()
    assert "\\*\\*approved by the CFO\\*\\*" in summary  # asterisks, not bold
    assert "<img" not in summary.replace("\\<img", "")  # a tag's text, not a tag

    assert "\\[click\\](http://evil.example)" in summary
