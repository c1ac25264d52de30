"""A slice of the webhook abuse campaign: each hostile request gets its 4xx and one log line
and emits nothing; a burst of valid events (and a replayed one) is persisted and emitted
exactly once."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from proof.prefect_server import events_total
from proof.webhook_abuse import KEY, abuse
from sandbox.server import ThreadedServer
from tests.helpers import wait_for
from webhooks import ReceiverSettings
from webhooks.app import create_app
from webhooks.config import EVENT_NAME, RESOURCE_PREFIX


def test_abuse_slice(tmp_path: Path, prefect_server: str) -> None:
    settings = ReceiverSettings(
        db_path=tmp_path / "e.db", hmac_key=KEY, emit_interval_s=0.1, prefect_api_url=prefect_server
    )
    prefix = f"abuse-{uuid.uuid4().hex[:6]}"
    with ThreadedServer(create_app(settings)) as rx:
        results = abuse(rx.url + settings.path, 200, prefix, settings.max_body_bytes)
        health = wait_for(
            lambda: (h := httpx.get(rx.url + "/health").json())["emitted"] == 201 and h, timeout=30
        )
    assert [a.case.name for a in results["hostile"] if not a.as_expected] == []
    assert results["tracebacks"] == 0
    assert results["valid then replayed"] == [200, 200, 200]
    assert results["burst 200s"] == 200
    assert (health["stored"], health["to_emit"]) == (201, 201)

    def received() -> int:
        return events_total(prefect_server, EVENT_NAME, f"{RESOURCE_PREFIX}{prefix}")

    assert wait_for(lambda: received() == 201, timeout=30)
