"""Runs whose process died (``kill -9``, a lost machine) show Crashed within minutes instead of
Running forever: Prefect's own mechanism. Deployment runs emit a heartbeat event every
``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (paused runs too, while their process waits), and
an automation marks a run Crashed when its heartbeats stop without a final state. The
documented recovery is to run the same file again: nothing is sent twice, and rows a dead
run held are taken over once its lease expires."""

from __future__ import annotations

import os
from datetime import timedelta

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectNotFound

NAME = "rewards: crash runs whose heartbeat stopped"
HEARTBEAT_SECONDS = 30  # Prefect's minimum


def heartbeat_env() -> dict[str, str]:
    """What a process that runs flows needs so its runs send heartbeats."""
    return {
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": os.environ.get(
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(HEARTBEAT_SECONDS)
        )
    }


def ensure_automation(silence_seconds: int) -> Automation:
    """Create (or bring up to date) the automation that crashes silent runs."""
    trigger = EventTrigger(
        after={"prefect.flow-run.heartbeat"},
        expect={
            "prefect.flow-run.heartbeat",
            "prefect.flow-run.Completed",
            "prefect.flow-run.Failed",
            "prefect.flow-run.Cancelled",
            "prefect.flow-run.Crashed",
        },
        match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
        for_each={"prefect.resource.id"},
        posture=Posture.Proactive,
        threshold=1,
        within=timedelta(seconds=silence_seconds),
    )
    action = ChangeFlowRunState(
        state=StateType.CRASHED,
        message=f"no heartbeat for {silence_seconds} s: the process running it is gone; "
        "run the same file again (nothing is sent twice)",
        force=True,  # a run killed while paused for approval is crashed too
    )
    try:
        automation = Automation.read(name=NAME)
    except (ObjectNotFound, ValueError):
        return Automation(name=NAME, trigger=trigger, actions=[action]).create()
    automation.trigger, automation.actions = trigger, [action]
    automation.update()
    return automation
