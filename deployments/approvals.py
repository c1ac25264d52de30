"""The runs waiting for a person's approval, with what each asks and where to answer: what
``rewards approvals`` prints (the Prefect UI's run list shows them too, filtered on Paused)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.settings import PREFECT_UI_URL

FLOWS = ["fulfil-rewards", "manage-rewards"]


@dataclass(frozen=True)
class Waiting:
    name: str
    flow: str
    since: datetime | None
    question: str
    page: str


def waiting() -> list[Waiting]:
    """The paused runs of the rewards flows, oldest first."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=FLOWS)),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
            sort=FlowRunSort.START_TIME_ASC,
            limit=200,
        )
        flows = {
            f.id: f.name
            for f in client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(any_=FLOWS)))
        }
        found = []
        for run in runs:
            asked = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]),
                    key=ArtifactFilterKey(like_="approval-"),
                )
            )
            texts = [str(a.data) for a in asked if a.description == "Waiting for approval"]

            question = texts[-1].split("\n", 1)[0].strip("* ") if texts else "(no question)"
            found.append(
                Waiting(
                    name=run.name,
                    flow=flows.get(run.flow_id, "?"),
                    since=run.state.timestamp if run.state else None,
                    question=question,
                    page=_page(str(run.id)),
                )
            )
    return found


def _page(run_id: str) -> str:
    base = PREFECT_UI_URL.value()
    return f"{base}/runs/flow-run/{run_id}" if base else f"flow run {run_id}"
