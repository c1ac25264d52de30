"""A slice of the webhook abuse campaign: each hostile request gets its 4xx and one log line
(every 401 alike) and emits nothing; a caller without credentials sees no docs and no counts; valid events (a burst, a replayed one, some beside idle half-open
connections and a greedy client) are answered 200, persisted and emitted exactly once; slow
heads and bodies are cut off at their deadlines."""

from __future__ import annotations

import uuid
from pathlib import Path

from proof.prefect_server import events_total
from proof.webhook_abuse import DOCS, HEALTH_TOKEN, KEY, campaign, counts, valid_events
from sandbox.server import ThreadedServer
from tests.helpers import wait_for
from webhooks import ReceiverSettings
from webhooks.app import create_app
from webhooks.config import EVENT_NAME, RESOURCE_PREFIX
from webhooks.serving import serve_options


def test_abuse_slice(tmp_path: Path, prefect_server: str) -> None:
    settings = ReceiverSettings(
        db_path=tmp_path / "e.db",
        hmac_key=KEY,
        health_token=HEALTH_TOKEN,
        emit_interval_s=0.1,
        prefect_api_url=prefect_server,
        header_timeout_s=1,
        body_timeout_s=1,
    )
    prefix = f"abuse-{uuid.uuid4().hex[:6]}"
    with ThreadedServer(create_app(settings), **serve_options(settings)) as rx:
        results = campaign(rx.url + settings.path, settings, 200, 250, prefix)
        expected = valid_events(results)
        health = wait_for(lambda: (h := counts(rx.url))["emitted"] == expected and h, timeout=30)
    assert [a.case.name for a in results["hostile"] if not a.as_expected] == []
    assert results["without credentials"] == {
        **dict.fromkeys(DOCS, 404),
        "/health": {"status": "ok"},
    }
    assert results["valid then replayed"] == [200, 200, 200]
    assert results["burst 200s"] == 200
    for name in ("idle connections", "one greedy client"):
        starved = results[name]
        assert set(starved.statuses) == {200}, name
        assert None not in starved.closed_after, name  # the receiver closed every one
    assert results["slow head"].startswith("closed by the receiver")
    assert results["slow body"].startswith("HTTP/1.1 408")
    assert results["tracebacks logged"] == 0
    assert (health["stored"], health["to_emit"]) == (expected, expected)

    def received() -> int:
        return events_total(prefect_server, EVENT_NAME, f"{RESOURCE_PREFIX}{prefix}")

    assert wait_for(lambda: received() == expected, timeout=30)
