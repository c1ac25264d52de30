"""The sandbox answers as Tango's OpenAPI document says, and the client asks as it says: a
scenario calls every one of the document's 43 operations through the client (happy paths and
refusals), and every answer and every request body is checked against the document's schema
for that path, method and status. The document is in the repository (`docs/tango/`), so these
run on any clone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest

from raas import (
    ConflictError,
    InsufficientFundsError,
    InvalidRequestError,
    NotFoundError,
    RaasClient,
    ReissueRecipient,
    Sender,
)
from sandbox import SandboxServer
from tests.conftest import fast_retry, make_settings
from tests.helpers import CUSTOMER, Receiver, line, order, wait_final, wait_for
from tests.sandbox import document
from tests.sandbox.placing import bounced, in_days, scheduled


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    status: int
    request: Any
    answer: Any


def _json(content: bytes) -> Any:
    return json.loads(content) if content else None


@pytest.fixture(scope="module")
def exchanges(sandbox: SandboxServer) -> Iterator[list[Exchange]]:
    """Every request and answer of the scenario, as they went over the wire."""
    seen: list[Exchange] = []

    def record(response: httpx.Response) -> None:
        response.read()
        request = response.request
        path = request.url.path.removeprefix("/raas/v2")
        seen.append(
            Exchange(
                request.method,
                path,
                response.status_code,
                _json(request.content),
                _json(response.content),
            )
        )

    with RaasClient(make_settings(sandbox), retry=fast_retry()) as client:
        client._http.event_hooks["response"].append(record)
        for part in (_accounts, _orders, _line_items, _alerts, _webhooks):
            part(client, sandbox)
        yield seen


def _accounts(client: RaasClient, sandbox: SandboxServer) -> None:
    cust = f"conf{uuid4().hex[:8]}"
    client.get_catalog()
    client.get_exchange_rates(base_currencies=["USD"])
    client.list_customers()
    client.get_customer(CUSTOMER)
    client.create_customer(cust, "Conformance Co")
    with pytest.raises(ConflictError):
        client.create_customer(cust, "Conformance Co")
    client.create_account(
        cust, f"{cust}-usd", display_name="Conf USD", contact_email="c@example.com"
    )
    client.update_account(
        cust, f"{cust}-usd", display_name="Conf", funding_notification=["f@example.com"]
    )
    client.list_customer_accounts(cust)
    client.list_accounts()
    client.get_account()


def _orders(client: RaasClient, sandbox: SandboxServer) -> None:
    ref = f"conf-{uuid4().hex[:8]}"
    lines = [
        line("a"),
        line("b", utid="U999999"),
        line("c", utid="U100008", deliveryDate=in_days(10)),
    ]
    client.create_async_order(order(ref, lines))
    client.create_async_order(order(ref, [line("a")]))
    with pytest.raises(InvalidRequestError):
        client._send("POST", "/asyncOrders", body={"lineItems": []})
    with pytest.raises(InsufficientFundsError):
        client.create_async_order(
            order(ref + "-big", [line("x", amount="2000")], account="sandbox-low")
        )
    with pytest.raises(NotFoundError):
        client.get_async_order("no-such-order")
    wait_final(client, ref)
    client.get_async_order(ref, max_results=1)
    client.get_line_items_with_credentials(ref)
    client.list_async_orders(accountIdentifier="sandbox-usd", maxResults=2)
    client.update_async_order(ref, campaign="conformance", purchase_order_number="PO-1", notes="n")


def _placed(client: RaasClient, **lines: dict[str, Any]) -> dict[str, str]:
    ref = f"conf-{uuid4().hex[:8]}"
    client.create_async_order(order(ref, [line(name, **over) for name, over in lines.items()]))
    summary = wait_final(client, ref)
    return {li.externalRefLineItemID: li.referenceLineItemId for li in summary.lineItems}


def _line_items(client: RaasClient, sandbox: SandboxServer) -> None:
    ids = _placed(
        client,
        ok={},
        gone={},
        bounced=bounced(),
        embedded={"utid": "U100005", "amount": "30", "deliveryMethod": "EMBEDDED"},
        later=scheduled(),
    )
    client.get_line_item_reason_codes()
    client.get_async_reason_codes()
    client.list_line_items(status="COMPLETE", elementsPerBlock=2)
    client.get_line_item(ids["ok"])
    with pytest.raises(NotFoundError):
        client.get_line_item("RA000000-000000-00-0001")
    client.get_embedded_url(ids["embedded"])
    client.freeze_line_item(ids["ok"], "VERIFY_ORDER")
    with pytest.raises(InvalidRequestError):
        client.freeze_line_item(ids["ok"], "VERIFY_ORDER")
    client.unfreeze_line_item(ids["ok"], "OTHER", "verified")
    client.resend_line_item(ids["ok"], "NOT_RECEIVED", new_email="again@example.com")
    client.resend_line_item(ids["bounced"], "DELIVERY_INFO", new_email="fixed@example.com")
    with pytest.raises(NotFoundError):
        client.resend_line_item("RA000000-000000-00-0001", "REMINDER")
    client.reissue_line_item(
        ids["ok"], "RECIPIENT", recipient=ReissueRecipient(email="n@example.com")
    )
    with pytest.raises(InvalidRequestError):
        client.reissue_line_item(ids["gone"], "REWARD_AMOUNT", amount=Decimal("5000"))
    client.cancel_line_item(ids["gone"], "RECIPIENT_REQUESTED")
    with pytest.raises(InvalidRequestError):
        client.cancel_line_item(ids["gone"], "RECIPIENT_REQUESTED")
    client.update_async_line_item(
        ids["later"], delivery_date=in_days(20), sender=Sender(firstName="G"), note="n"
    )
    client.update_line_item(ids["later"], campaign="conformance b", order_notes="b")


def _alerts(client: RaasClient, sandbox: SandboxServer) -> None:
    alert = client.create_low_balance_alert(Decimal("1"), emails=["ops@example.com"])
    with pytest.raises(ConflictError):
        client.create_low_balance_alert(Decimal("1"))
    client.list_low_balance_alerts()
    client.get_low_balance_alert(alert.balanceAlertID)
    client.update_low_balance_alert(alert.balanceAlertID, display_name="Conformance")
    client.delete_low_balance_alert(alert.balanceAlertID)
    with pytest.raises(NotFoundError):
        client.get_low_balance_alert(alert.balanceAlertID)


def _webhooks(client: RaasClient, sandbox: SandboxServer) -> None:
    with Receiver() as rx:
        sub = client.create_webhook(rx.url, verification="NONE", categories=["orders", "rewards"])
        client.get_event_types()
        client.list_webhooks()
        client.update_webhook(sub.webhookId, headers={"X-Team": "conformance"})
        client.renew_webhook(sub.webhookId)
        client.test_webhook(sub.webhookId, "AsyncOrderStatus")
        client.test_webhook(sub.webhookId)
        _placed(client, a={}, b=bounced())
        wait_for(lambda: len(rx.requests) >= 5)
        list(client.iter_webhook_events(sub.webhookId))
        client.replay_webhook_events(sub.webhookId, from_revision=1)
        client.delete_webhook(sub.webhookId)
        with pytest.raises(NotFoundError):
            client.delete_webhook(sub.webhookId)
        with pytest.raises(InvalidRequestError):
            client.get_webhook(sub.webhookId)


def test_every_operation_of_the_document_is_called(exchanges: list[Exchange]) -> None:
    called = {(e.method, document.operation(e.method, e.path)[0]) for e in exchanges}
    assert called == set(document.operations()), set(document.operations()) - called


def test_every_answer_conforms_to_the_document(exchanges: list[Exchange]) -> None:
    for e in exchanges:
        document.validate_answer(e.method, e.path, e.status, e.answer)
    assert {200, 201, 202, 400, 402, 404, 409, 422} <= {e.status for e in exchanges}


def test_every_request_body_conforms_to_the_document(exchanges: list[Exchange]) -> None:
    bodies = [e for e in exchanges if e.request is not None and e.status < 300]
    for e in bodies:
        document.validate_request(e.method, e.path, e.request)
    sent = {(e.method, document.operation(e.method, e.path)[0]) for e in bodies}
    assert sent == set(document.operations_with_body())


def test_the_conformance_check_can_fail() -> None:
    with pytest.raises(AssertionError, match=r"totalLineItems|three"):
        document.validate_answer("POST", "/asyncOrders", 202, {"totalLineItems": "three"})
    with pytest.raises(AssertionError, match="not in"):
        document.validate_answer("POST", "/asyncOrders", 504, None)
    with pytest.raises(AssertionError, match="reasonCode"):
        document.validate_request("POST", "/lineItems/x/cancel", {"reasonCode": "BORED"})


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
