"""fan_out: the orders of one file shared among send-orders runs. The runs on real workers are
proven in tests/deployments/test_workers_postgres.py; here, the paths where no worker helps."""

from __future__ import annotations

import contextlib
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from flows.send_orders import SEND_DEPLOYMENT, send_orders
from tests.flows.conftest import recipients, write_csv
from tests.flows.test_fulfil_rewards import run, sandbox_lines
from tests.helpers import runs_of


def _drop_send_deployment() -> None:
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        client.delete_deployment(client.read_deployment_by_name(SEND_DEPLOYMENT).id)


def test_fan_out_without_the_deployment_is_a_clear_error(env: Path, sandbox, campaign) -> None:
    _drop_send_deployment()
    state, _ = run(
        write_csv(env / "fan.csv", recipients(campaign, 6)), fan_out=3, max_line_items_per_order=2
    )
    assert state.is_failed()
    assert SEND_DEPLOYMENT in state.message and "rewards deploy --pool" in state.message
    assert "Traceback" not in state.message
    assert len(sandbox_lines(sandbox, campaign)) == 0


def test_shares_nobody_picks_up_are_cancelled_and_the_run_finishes_them(
    env: Path, sandbox, campaign
) -> None:
    send_orders.to_deployment(name="fan-out").apply()  # registered, but no worker runs it
    try:
        path = write_csv(env / "fan.csv", recipients(campaign, 9))
        state, out = run(path, fan_out=3, max_line_items_per_order=2, timeout_seconds=3)
        assert state.is_completed(), state.message
        assert out["complete"] == 9 and out["balanced"]
        lines = sandbox_lines(sandbox, campaign)
        assert len(lines) == 9 and lines["id"].is_unique
        shares = runs_of(SEND_DEPLOYMENT)
        ours = [r for r in shares if r.parameters["batch"] == out["batch"]]
        assert sorted(r.parameters["share"] for r in ours) == [0, 1, 2]
        assert {r.state.type.value for r in ours} == {"CANCELLED"}
    finally:
        _drop_send_deployment()
