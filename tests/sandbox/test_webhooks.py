"""Webhook subscriptions and signed AsyncOrderStatus deliveries, over real HTTP both ways."""

import json
from uuid import uuid4

import pytest

from raas import InvalidRequestError, NotFoundError, RaasClient, parse_async_order_event
from raas.webhooks import SIGNATURE_HEADER, new_hmac_key, verify_hmac, verify_x509
from tests.helpers import Receiver, line, order, wait_final, wait_for


def _events_for(receiver: Receiver, ref: str) -> list[tuple[dict, bytes]]:
    out = []
    for headers, body in receiver.requests:
        data = json.loads(body)
        if data.get("eventData", {}).get("externalRefID") == ref:
            out.append((headers, body))
    return out


def test_order_completion_is_posted_signed_with_hmac(client: RaasClient) -> None:
    key = new_hmac_key()
    with Receiver() as rx:
        sub = client.create_webhook(
            rx.url, hmac_shared_secret_key=key, headers={"X-Team-Token": "abc123"}
        )
        assert sub.payloadVerificationMethod == "HMAC" and sub.expiresAt
        ref = f"wh-{uuid4().hex[:8]}"
        client.create_async_order(
            order(ref, [line("a"), line("b", recipient={"email": "b@fail.example.com"})])
        )
        wait_final(client, ref)
        headers, body = wait_for(lambda: _events_for(rx, ref))[0]
        verify_hmac(body, headers[SIGNATURE_HEADER.lower()], key)
        assert headers["x-team-token"] == "abc123"
        event = parse_async_order_event(json.loads(body))
        assert (
            event.status,
            event.totalLineItems,
            event.failedLineItems,
            event.successfulLineItems,
        ) == ("PARTIALFAILED", 2, 1, 1)
        assert event.accountIdentifier == "sandbox-usd"
        client.delete_webhook(sub.webhookId)


def test_x509_signed_test_event(client: RaasClient, sandbox) -> None:
    cert = sandbox.admin.post("/x509").json()["signingCertificate"]
    with Receiver() as rx:
        sub = client.create_webhook(rx.url, verification="X509", signing_certificate=cert)
        client.test_webhook(sub.webhookId, "AsyncOrderStatus")
        headers, body = wait_for(lambda: rx.requests)[0]
        verify_x509(body, headers[SIGNATURE_HEADER.lower()], cert)
        assert parse_async_order_event(json.loads(body)).externalRefID == "TEST-ORDER"
        client.delete_webhook(sub.webhookId)


def test_failed_deliveries_are_retried_with_backoff(client: RaasClient) -> None:
    with Receiver(statuses=[500, 503]) as rx:
        sub = client.create_webhook(rx.url, verification="NONE")
        client.test_webhook(sub.webhookId)
        wait_for(lambda: len(rx.requests) >= 3, timeout=10)
        bodies = {b for _, b in rx.requests}
        assert len(bodies) == 1  # the same event, three times
        client.delete_webhook(sub.webhookId)


def test_events_are_listed_and_replayed(client: RaasClient) -> None:
    with Receiver() as rx:
        sub = client.create_webhook(rx.url, verification="NONE")
        refs = [f"ev-{uuid4().hex[:8]}" for _ in range(3)]
        for ref in refs:
            client.create_async_order(order(ref, [line("a", amount="1")]))
        for ref in refs:
            wait_final(client, ref)
        wait_for(lambda: len(rx.requests) >= 3)
        events = list(client.iter_webhook_events(sub.webhookId, max_results=2))
        assert sorted(e["eventData"]["externalRefID"] for e in events) == sorted(refs)
        revisions = [e["revision"] for e in events]
        assert revisions == sorted(revisions)
        client.replay_webhook_events(sub.webhookId, from_revision=revisions[1])
        wait_for(lambda: len(rx.requests) >= 5)
        replayed = [json.loads(b)["eventId"] for _, b in rx.requests[3:]]
        assert sorted(replayed) == sorted(e["eventId"] for e in events[1:])
        client.delete_webhook(sub.webhookId)


def test_subscription_lifecycle(client: RaasClient) -> None:
    sub = client.create_webhook("http://127.0.0.1:9/none", verification="NONE")
    assert sub.webhookId in {w.webhookId for w in client.list_webhooks()}
    renewed = client.renew_webhook(sub.webhookId)
    assert renewed >= sub.expiresAt
    client.delete_webhook(sub.webhookId)
    with pytest.raises(InvalidRequestError, match="not found") as info:  # no 404 in the document
        client.get_webhook(sub.webhookId)
    assert info.value.errors[0].code == "NotFound"
    with pytest.raises(NotFoundError):
        client.delete_webhook(sub.webhookId)


def test_faults_drop_duplicate_and_reorder_deliveries(client: RaasClient, sandbox) -> None:
    sandbox.admin.post(
        "/faults",
        json={
            "seed": 2,
            "webhook_drop_rate": 0.4,
            "webhook_duplicate_rate": 0.4,
            "webhook_reorder_window_s": 0.3,
        },
    ).raise_for_status()
    with Receiver() as rx:
        sub = client.create_webhook(rx.url, verification="NONE")
        refs = [f"chaos-{uuid4().hex[:8]}" for _ in range(12)]
        for ref in refs:
            client.create_async_order(order(ref, [line("a", amount="1")]))
        for ref in refs:
            wait_final(client, ref)
        listed = list(client.iter_webhook_events(sub.webhookId))
        assert len(listed) == 12  # every event is kept, whatever happened to its delivery

        def settled() -> bool:
            stats = sandbox.admin.get("/stats").json()["deliveries"]
            return stats.get("pending", 0) == 0

        wait_for(settled)
        ids = [json.loads(b)["eventId"] for _, b in rx.requests]
        assert len(set(ids)) < 12  # some dropped
        assert len(ids) > len(set(ids))  # some duplicated
        client.delete_webhook(sub.webhookId)
