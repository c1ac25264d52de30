"""The webhook receiver over real HTTP: verification, limits, hostile requests (each a 4xx
and one log line), persistence before 200, deduplication, revision order, and emission to a
real Prefect server."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from proof.webhook_abuse import HEALTH_TOKEN, KEY, LogLines, body, counts, hostile_webhooks
from raas.webhooks import SIGNATURE_HEADER, new_hmac_key, new_x509_pair, sign_hmac, sign_x509
from sandbox.server import ThreadedServer, free_port
from tests.helpers import wait_for
from webhooks import ReceiverSettings
from webhooks.app import create_app
from webhooks.serving import serve_options

MAX_BODY = 64 * 1024


def event(
    ref: str = "rw-b1-00000",
    revision: int = 1,
    status: str = "SUCCESSFUL",
    event_id: str | None = None,
) -> bytes:
    return body(ref, revision, event_id, status, "sandbox-usd", "sandbox-customer")


def post(
    rx: ThreadedServer, body: bytes, signature: str | bytes | None = "sign", key: str = KEY
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers[SIGNATURE_HEADER] = sign_hmac(body, key)
    elif signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return httpx.post(rx.url + "/tango/webhooks", content=body, headers=headers)


def receiver_settings(tmp_path: Path, **values: Any) -> ReceiverSettings:
    defaults = {"db_path": tmp_path / "events.db", "hmac_key": KEY, "health_token": HEALTH_TOKEN}
    return ReceiverSettings(**{**defaults, **values})


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ThreadedServer]:
    settings = receiver_settings(tmp_path, max_body_bytes=MAX_BODY)
    with ThreadedServer(create_app(settings, emit=False), **serve_options(settings)) as server:
        yield server


def test_a_signed_event_is_stored_before_200(receiver) -> None:
    response = post(receiver, event())
    assert response.status_code == 200 and response.json()["message"] == "accepted"
    assert counts(receiver.url) == {"status": "ok", "stored": 1, "to_emit": 1, "emitted": 0}


@pytest.mark.parametrize("case", hostile_webhooks("rx", MAX_BODY), ids=lambda c: c.name)
def test_hostile_requests_get_a_4xx_one_log_line_and_store_nothing(receiver, case) -> None:
    with LogLines() as logs:
        response = post(receiver, case.body, signature=case.signature)
    assert (response.status_code, len(logs.records), logs.tracebacks) == (case.expected, 1, 0)
    if case.expected == 401:  # every 401 alike: the reason is in the log line only
        assert response.json() == {"status": 401, "message": "unauthorized"}
    assert counts(receiver.url)["stored"] == 0


def test_unauthenticated_callers_learn_nothing(receiver) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert httpx.get(receiver.url + path).status_code == 404
    for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        assert httpx.get(receiver.url + "/health", headers=auth).json() == {"status": "ok"}
    assert counts(receiver.url) == {"status": "ok", "stored": 0, "to_emit": 0, "emitted": 0}


def test_docs_are_served_when_asked_for(tmp_path: Path) -> None:
    settings = receiver_settings(tmp_path, docs=True)
    with ThreadedServer(create_app(settings, emit=False)) as rx:
        assert httpx.get(rx.url + "/docs").status_code == 200
        assert "/tango/webhooks" in httpx.get(rx.url + "/openapi.json").json()["paths"]


def test_duplicates_and_older_revisions_change_nothing(receiver) -> None:
    first = event(revision=5, status="SUCCESSFUL", event_id="e-5")
    assert post(receiver, first).json()["message"] == "accepted"
    assert post(receiver, first).json()["message"] == "duplicate"
    older = event(revision=3, status="RETRYING", event_id="e-3")
    assert post(receiver, older).json()["message"] == "stale (older revision)"
    assert counts(receiver.url) == {"status": "ok", "stored": 2, "to_emit": 1, "emitted": 0}


def test_other_event_types_are_acknowledged_and_ignored(receiver) -> None:
    body = json.dumps(
        {"eventId": "c1", "revision": 1, "eventType": "ConnectivityTest", "eventData": {}}
    ).encode()
    assert post(receiver, body).status_code == 200
    assert counts(receiver.url)["stored"] == 0


def test_x509_verification(tmp_path: Path) -> None:
    key_pem, cert = new_x509_pair()
    settings = receiver_settings(tmp_path, verification="X509", certificate_pem=cert)
    with ThreadedServer(create_app(settings, emit=False)) as rx:
        body = event()
        assert post(rx, body, signature=sign_x509(body, key_pem)).status_code == 200
        other_key, _ = new_x509_pair()
        assert post(rx, event(), signature=sign_x509(body, other_key)).status_code == 401


def _prefect_events(api: str, ref: str) -> list[dict[str, Any]]:
    response = httpx.post(
        api.rstrip("/") + "/events/filter",
        json={
            "filter": {
                "event": {"name": ["tango.async-order.status"]},
                "resource": {"id": [f"tango.async-order.{ref}"]},
                "occurred": {"since": "2000-01-01T00:00:00Z"},
            },
            "limit": 50,
        },
    )
    response.raise_for_status()
    return response.json()["events"]


def test_events_reach_prefect_and_survive_a_prefect_outage(
    tmp_path: Path, prefect_server: str
) -> None:
    down = f"http://127.0.0.1:{free_port()}/api"  # nothing listens here
    settings = receiver_settings(tmp_path, emit_interval_s=0.1, prefect_api_url=down)
    app = create_app(settings)
    ref = f"rw-outage-{uuid.uuid4().hex[:6]}"
    with ThreadedServer(app) as rx:
        for rev in (1, 2):
            assert (
                post(
                    rx, event(ref, revision=rev, status=["RETRYING", "SUCCESSFUL"][rev - 1])
                ).status_code
                == 200
            )
        time.sleep(0.5)
        assert counts(rx.url)["emitted"] == 0  # Prefect is down: kept, not lost
        app.state.emitter.explicit_url = prefect_server  # Prefect is back
        wait_for(lambda: counts(rx.url)["emitted"] == 2)
    events = wait_for(lambda: (e := _prefect_events(prefect_server, ref)) and len(e) == 2 and e)
    statuses = sorted(e["resource"]["tango.status"] for e in events)
    assert statuses == ["RETRYING", "SUCCESSFUL"]
    assert all(e["resource"]["tango.account"] == "sandbox-usd" for e in events)
    assert {e["payload"]["eventData"]["externalRefID"] for e in events} == {ref}


def test_an_event_that_cannot_be_emitted_does_not_hold_back_the_others(
    tmp_path: Path, prefect_server: str
) -> None:
    """A stored body no longer readable as an event (an older version wrote it) is dropped with
    a log line; the events after it reach Prefect."""
    import sqlite3

    down = f"http://127.0.0.1:{free_port()}/api"
    settings = receiver_settings(tmp_path, emit_interval_s=0.1, prefect_api_url=down)
    app = create_app(settings)
    refs = [f"rw-poison-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)]
    with ThreadedServer(app) as rx, LogLines() as logs:
        for ref in refs:
            assert post(rx, event(ref)).status_code == 200
        with sqlite3.connect(tmp_path / "events.db") as db:  # the first one, as found later
            db.execute(
                "UPDATE events SET body='{\"eventId\": 1}' WHERE external_ref_id=?", refs[:1]
            )
        app.state.emitter.explicit_url = prefect_server
        wait_for(lambda: counts(rx.url)["emitted"] == 3)
    for ref in refs[1:]:
        assert wait_for(lambda ref=ref: _prefect_events(prefect_server, ref), timeout=15)
    said = [r.getMessage() for r in logs.records if "dropped" in r.getMessage()]
    assert len(said) == 1 and "cannot be emitted" in said[0]


def test_sandbox_webhooks_flow_into_prefect(
    tmp_path: Path, prefect_server: str, client, sandbox
) -> None:
    from tests.helpers import line, order, wait_final

    settings = receiver_settings(tmp_path, emit_interval_s=0.1, prefect_api_url=prefect_server)
    with ThreadedServer(create_app(settings)) as rx:
        sub = client.create_webhook(rx.url + "/tango/webhooks", hmac_shared_secret_key=KEY)
        ref = f"wh-{uuid.uuid4().hex[:8]}"
        client.create_async_order(order(ref, [line("a"), line("b")]))
        wait_final(client, ref)
        events = wait_for(lambda: _prefect_events(prefect_server, ref), timeout=15)
        assert events[0]["resource"]["tango.status"] == "SUCCESSFUL"
        client.delete_webhook(sub.webhookId)


def test_rejected_requests_reach_no_prefect_event(tmp_path: Path, prefect_server: str) -> None:
    settings = receiver_settings(
        tmp_path, emit_interval_s=0.1, prefect_api_url=prefect_server, max_body_bytes=4096
    )
    ref = f"rw-forged-{uuid.uuid4().hex[:6]}"
    with ThreadedServer(create_app(settings)) as rx:
        body = event(ref)
        assert post(rx, body, key=new_hmac_key()).status_code == 401
        assert post(rx, body, signature=None).status_code == 401
        assert post(rx, body + b" " * 5000).status_code == 413
        good = event(ref.replace("forged", "good"))
        assert post(rx, good).status_code == 200  # a valid one on the same receiver goes through
        wait_for(lambda: _prefect_events(prefect_server, ref.replace("forged", "good")))
    assert _prefect_events(prefect_server, ref) == []
