"""The sandbox answers as Tango's OpenAPI document says: every response the client receives in
a broad scenario validates against the document's schema for that path, method and status."""

from __future__ import annotations

import copy
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from raas import InsufficientFundsError, InvalidRequestError, NotFoundError, RaasClient
from tests.helpers import Receiver, line, order, wait_final, wait_for

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "tango" / "tango-raas-openapi.json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"Tango's OpenAPI document is not at {SPEC_PATH} (CI always has ../shared)")
    doc = json.loads(SPEC_PATH.read_text())
    # the one pattern Python's regex engines cannot compile (\p{...}); see NOTES.md
    doc["components"]["schemas"]["CreateCustomerCriteria"]["properties"]["displayName"].pop(
        "pattern", None
    )
    return _one_of_as_any_of(doc)


def _one_of_as_any_of(node: Any) -> Any:
    """The document's ``oneOf`` alternatives are open objects, so a valid body matches several
    of them and strict ``oneOf`` fails on every body; read them as ``anyOf``."""
    if isinstance(node, dict):
        return {("anyOf" if k == "oneOf" else k): _one_of_as_any_of(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_one_of_as_any_of(v) for v in node]
    return node


def _operation(spec: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    for template, ops in spec["paths"].items():
        regex = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(regex, path) and method.lower() in ops:
            # prefer literal segments (/webhooks/eventtypes over /webhooks/{id})
            literal = [t for t in spec["paths"] if t == path and method.lower() in spec["paths"][t]]
            chosen = literal[0] if literal else template
            return chosen, spec["paths"][chosen][method.lower()]
    raise AssertionError(f"{method} {path} is not in Tango's document")


def _validate(spec: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    from jsonschema import Draft202012Validator

    template, op = _operation(spec, method, path)
    responses = op["responses"]
    assert str(status) in responses, (
        f"{method} {template} answered {status}, not in {list(responses)}"
    )
    content = responses[str(status)].get("content")
    if not content or body is None:
        return
    schema = copy.deepcopy(content["application/json"]["schema"])
    schema["components"] = spec["components"]
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    assert not errors, (
        f"{method} {template} {status}: {errors[0].message} at {list(errors[0].path)}"
    )


def test_sandbox_responses_conform_to_tangos_document(spec, client: RaasClient, sandbox) -> None:
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
        _validate(spec, method, path, status, body)


def test_the_conformance_check_can_fail(spec) -> None:
    with pytest.raises(AssertionError, match=r"totalLineItems|three"):
        _validate(spec, "POST", "/asyncOrders", 202, {"totalLineItems": "three"})
    with pytest.raises(AssertionError, match="not in"):
        _validate(spec, "POST", "/asyncOrders", 504, None)
