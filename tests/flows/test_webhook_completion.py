"""Completion by webhook: sandbox -> signed webhook -> receiver -> Prefect event -> flow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.fulfil_rewards import fulfil_rewards
from proof.webhook_abuse import HEALTH_TOKEN, counts
from raas import RaasClient
from raas.webhooks import new_hmac_key
from rewards.summary import summary_of
from sandbox import SandboxConfig, SandboxServer
from sandbox.server import ThreadedServer
from tests.conftest import fast_retry, make_settings
from tests.flows.conftest import recipients, write_csv
from webhooks import ReceiverSettings
from webhooks.app import create_app

KEY = new_hmac_key()


@pytest.fixture
def slow_tango(
    env: Path, prefect_server: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SandboxServer, ThreadedServer]]:
    """A sandbox whose line items take 1.5 s, subscribed to a receiver that feeds Prefect."""
    from tasks.tango import tango_client

    config = SandboxConfig(db_path=env / "slow.db", fulfil_latency_s=1.5)
    receiver = ReceiverSettings(
        db_path=env / "events.db",
        hmac_key=KEY,
        health_token=HEALTH_TOKEN,
        emit_interval_s=0.1,
        prefect_api_url=prefect_server,
    )
    with SandboxServer(config) as sandbox, ThreadedServer(create_app(receiver)) as rx:
        monkeypatch.setenv("TANGO_BASE_URL", sandbox.base_url)
        tango_client.cache_clear()
        with RaasClient(make_settings(sandbox), retry=fast_retry()) as client:
            client.create_webhook(rx.url + "/tango/webhooks", hmac_shared_secret_key=KEY)
        yield sandbox, rx
    tango_client.cache_clear()


def run(path: Path, **params: Any):
    state = fulfil_rewards(
        source_path=str(path), completion_mode="webhook", **params, return_state=True
    )
    summary = summary_of(state.result(raise_on_failure=False))
    return state, summary.flat() if summary else None


def test_webhooks_complete_the_run_long_before_any_poll(slow_tango, env, campaign) -> None:
    _, rx = slow_tango
    path = write_csv(env / "wh.csv", recipients(campaign, 4))
    # the fallback poll would come after the timeout: only webhooks can finish this run
    state, out = run(
        path, max_line_items_per_order=2, poll_interval_seconds=120, timeout_seconds=25
    )
    assert state.is_completed(), state.message
    assert (out["complete"], out["pending"]) == (4, 0) and out["balanced"]
    assert counts(rx.url)["emitted"] >= 2


def test_half_the_webhooks_lost_the_fallback_poll_finishes(slow_tango, env, campaign) -> None:
    sandbox, _ = slow_tango
    sandbox.admin.post("/faults", json={"seed": 5, "webhook_drop_rate": 0.5})
    path = write_csv(env / "drop.csv", recipients(campaign, 6))
    state, out = run(path, max_line_items_per_order=1, poll_interval_seconds=1, timeout_seconds=60)
    assert state.is_completed(), state.message
    assert (out["complete"], out["pending"]) == (6, 0)
    assert sandbox.admin.get("/stats").json()["deliveries"].get("dropped", 0) >= 1


def test_duplicated_and_reordered_webhooks_change_nothing(slow_tango, env, campaign) -> None:
    sandbox, rx = slow_tango
    sandbox.admin.post(
        "/faults",
        json={"seed": 9, "webhook_duplicate_rate": 0.7, "webhook_reorder_window_s": 1.0},
    )
    path = write_csv(env / "dup.csv", recipients(campaign, 6))
    state, out = run(path, max_line_items_per_order=1, poll_interval_seconds=2, timeout_seconds=60)
    assert state.is_completed(), state.message
    assert (out["complete"], out["pending"]) == (6, 0) and out["balanced"]
    stats = sandbox.admin.get("/stats").json()
    assert stats["lineItems"] == {"COMPLETE": 6} and stats["duplicateLineItemIds"] == 0
    health = counts(rx.url)
    assert health["stored"] == health["to_emit"] == 6  # duplicates recognised, not re-emitted
