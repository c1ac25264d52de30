"""Approval in the UI: a batch over the threshold pauses for a RunInput form."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run

from flows.fulfil_rewards import fulfil_rewards
from rewards.params import FulfilParams
from tests.flows.conftest import recipients, write_csv
from tests.helpers import wait_for


def start(path: Path, **params: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def go() -> None:
        state = fulfil_rewards(
            FulfilParams(
                source_path=str(path), poll_interval_seconds=0.1, approval_threshold="20", **params
            ),
            return_state=True,
        )
        box["state"], box["out"] = state, state.result(raise_on_failure=False)

    thread = threading.Thread(target=go)
    thread.start()
    return thread, box


def paused_run_id() -> Any:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            )
        )
    return runs[0].id if runs else None


def sent(sandbox, campaign: str) -> int:
    with sandbox.engine.store.tx() as c:
        return c.execute("SELECT COUNT(*) FROM orders WHERE campaign=?", (campaign,)).fetchone()[0]


def test_approve_sends_and_the_report_says_who(env: Path, sandbox, campaign) -> None:
    thread, box = start(write_csv(env / "a.csv", recipients(campaign, 5)))  # 25.00 > 20
    run_id = wait_for(paused_run_id, timeout=30)
    assert sent(sandbox, campaign) == 0  # nothing goes out while it waits
    resume_flow_run(
        run_id, run_input={"approve": True, "approver": "Grace", "note": "Q4 budget ok"}
    )
    thread.join(60)
    assert box["state"].is_completed(), box["state"].message
    assert box["out"]["complete"] == 5
    summary = (Path(box["out"]["report_dir"]) / "summary.md").read_text()
    assert "approved by Grace: Q4 budget ok" in summary


def test_reject_sends_nothing_and_says_why(env: Path, sandbox, campaign) -> None:
    thread, box = start(write_csv(env / "r.csv", recipients(campaign, 5)))
    run_id = wait_for(paused_run_id, timeout=30)
    resume_flow_run(run_id, run_input={"approve": False, "approver": "Alan", "note": "too much"})
    thread.join(60)
    assert box["state"].is_cancelled() and "rejected by Alan: too much" in box["state"].message
    assert sent(sandbox, campaign) == 0
    summary = (Path(box["out"]["report_dir"]) / "summary.md").read_text()
    assert "rejected by Alan" in summary


def test_no_answer_times_out_and_sends_nothing(env: Path, sandbox, campaign) -> None:
    thread, box = start(
        write_csv(env / "t.csv", recipients(campaign, 5)), approval_timeout_seconds=2
    )
    thread.join(60)
    assert box["state"].is_cancelled() and "timed out" in box["state"].message
    assert sent(sandbox, campaign) == 0
    summary = (Path(box["out"]["report_dir"]) / "summary.md").read_text()
    assert "approval timed out" in summary


def test_below_the_threshold_no_pause(env: Path, sandbox, campaign) -> None:
    thread, box = start(write_csv(env / "s.csv", recipients(campaign, 2)))  # 10.00
    thread.join(60)
    assert box["state"].is_completed() and box["out"]["complete"] == 2
    report = pd.read_csv(Path(box["out"]["report_dir"]) / "report.csv", dtype=str)
    assert len(report) == 2
