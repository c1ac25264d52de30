"""The sandbox answers as Tango's OpenAPI document says: every response the client receives in
a broad scenario validates against the document's schema for that path, method and status. The
document is in the repository (`docs/tango/`), so these run on any clone."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from raas import InsufficientFundsError, InvalidRequestError, NotFoundError, RaasClient
from tests.helpers import Receiver, line, order, wait_final, wait_for
from tests.sandbox import document


def test_sandbox_responses_conform_to_tangos_document(client: RaasClient, sandbox) -> None:
    seen: list[tuple[str, str, int, Any]] = []

    def record(response: httpx.Response) -> None:
        response.read()
        path = response.request.url.path.removeprefix("/raas/v2")
        body = response.json() if response.content else None
        seen.append((response.request.method, path, response.status_code, body))

    client._http.event_hooks["response"].append(record)
    ref = f"conf-{uuid4().hex[:8]}"
    cust = f"conf{uuid4().hex[:8]}"

    client.get_catalog()
    client.list_customers()
    client.get_customer("sandbox-customer")
    client.create_customer(cust, "Conformance Co")
    client.create_account(
        cust, f"{cust}-usd", display_name="Conf USD", contact_email="c@example.com"
    )
    client._json("GET", f"/customers/{cust}/accounts")
    client._json("GET", "/accounts")
    client.get_account()
    client.create_async_order(
        order(
            ref,
            [
                line("a"),
                line("b", utid="U999999"),
                line(
                    "c",
                    utid="U100008",
                    deliveryDate=(date.today() + timedelta(days=10)).isoformat(),
                ),
            ],
        )
    )
    client.create_async_order(order(ref, [line("a")]))
    with pytest.raises(InvalidRequestError):
        client._send("POST", "/asyncOrders", body={"lineItems": []})
    with pytest.raises(InsufficientFundsError):
        client.create_async_order(
            order(ref + "-big", [line("x", amount="2000")] * 1, account="sandbox-low")
        )
    with pytest.raises(NotFoundError):
        client.get_async_order("no-such-order")
    wait_final(client, ref)
    client.get_async_order(ref, max_results=1)
    client.get_line_items_with_credentials(ref)
    client.list_async_orders(accountIdentifier="sandbox-usd", maxResults=2)
    with Receiver() as rx:
        sub = client.create_webhook(rx.url, verification="NONE")
        client._json("GET", "/webhooks/eventtypes")
        client.list_webhooks()
        client.renew_webhook(sub.webhookId)
        client.test_webhook(sub.webhookId, "AsyncOrderStatus")
        client.test_webhook(sub.webhookId)
        wait_for(lambda: len(rx.requests) >= 2)
        list(client.iter_webhook_events(sub.webhookId))
        client.replay_webhook_events(sub.webhookId, from_revision=1)
        client.delete_webhook(sub.webhookId)
    pending = [li for li in client.get_async_order(ref).lineItems if li.lineItemStatus == "PENDING"]
    client.cancel_line_item(pending[0].referenceLineItemId, "OTHER", "conformance")

    statuses = {s for _, _, s, _ in seen}
    assert {200, 201, 202, 400, 402, 404} <= statuses
    for method, path, status, body in seen:
        document.validate_answer(method, path, status, body)


def test_the_conformance_check_can_fail() -> None:
    with pytest.raises(AssertionError, match=r"totalLineItems|three"):
        document.validate_answer("POST", "/asyncOrders", 202, {"totalLineItems": "three"})
    with pytest.raises(AssertionError, match="not in"):
        document.validate_answer("POST", "/asyncOrders", 504, None)


def test_the_document_is_in_the_repository_with_its_43_operations() -> None:
    assert document.DOCUMENT.is_file()
    assert len(document.operations()) == 43


@pytest.mark.parametrize("name", ["Conformance Co", "Zoë & Søn, S.A.", "株式会社テスト"])
def test_the_unicode_class_pattern_is_read_as_tango_means_it(name: str) -> None:
    document.validate_request(
        "POST", "/customers", {"customerIdentifier": "c-123", "displayName": name}
    )


@pytest.mark.parametrize("name", ["Co", "Acme $ Co", "tab\there"])
def test_the_unicode_class_pattern_still_refuses(name: str) -> None:
    with pytest.raises(AssertionError, match="displayName"):
        document.validate_request(
            "POST", "/customers", {"customerIdentifier": "c-123", "displayName": name}
        )
