"""Async orders: Tango's validation, idempotency, fulfilment, books, pagination, secrecy."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from raas import InsufficientFundsError, InvalidRequestError, NotFoundError, RaasClient
from tests.helpers import ACCOUNT, line, order, wait_final


def ref() -> str:
    return f"ord-{uuid4().hex[:12]}"


def test_new_order_202_then_same_ref_200_with_the_original(client: RaasClient) -> None:
    r = ref()
    first = client.create_async_order(order(r, [line("a"), line("b")]))
    assert first.created and first.http_code == 202
    assert first.order.status == "QUEUED" and first.order.totalLineItems == 2
    # a different body under the same externalRefID still returns the original order
    again = client.create_async_order(order(r, [line("zzz", amount="99")]))
    assert not again.created and again.http_code == 200
    assert again.order.totalLineItems == 2 and again.order.createdAt == first.order.createdAt
    summary = wait_final(client, r)
    assert [li.externalRefLineItemID for li in summary.lineItems] == ["a", "b"]


def test_fulfilment_moves_money_exactly_and_refunds_failures(client: RaasClient) -> None:
    before = client.get_account().currentBalance
    r = ref()
    client.create_async_order(
        order(
            r,
            [
                line("ok1", amount="12.34"),
                line("ok2", utid="U100002", amount="100"),  # 2% fee -> 102.00
                line("fails", amount="7", recipient={"email": "x@fail.example.com"}),
            ],
        )
    )
    summary = wait_final(client, r)
    assert summary.orderStatus == "PARTIAL"
    status = {li.externalRefLineItemID: li for li in summary.lineItems}
    assert (
        status["ok1"].lineItemStatus == "COMPLETE" and status["ok1"].deliveryStatus == "DELIVERED"
    )
    assert status["fails"].lineItemStatus == "FAILED"
    assert status["fails"].lineItemErrors[0].errorCode == "DELIVERY_FAILED"
    assert status["ok2"].amountCharged.fee == Decimal("2.00")
    charged = sum(li.amountCharged.total for li in summary.lineItems)
    assert charged == Decimal("114.34") == summary.amountCharged.total
    assert client.get_account().currentBalance == before - charged


def test_a_delivery_fails_by_the_contact_its_method_uses(client: RaasClient) -> None:
    """A text to a recipient whose email is at the failing domain was failed by that email,
    which a text never uses; a text fails by the failing number, an email by the domain."""
    bad_email = {"email": "x@fail.example.com", "mobileNumber": "+14155550123"}
    bad_number = {"email": "x@example.com", "mobileNumber": "+14155550199"}
    r = ref()
    client.create_async_order(
        order(
            r,
            [
                line("text", deliveryMethod="PHONE", recipient=bad_email),
                line("text-fails", deliveryMethod="PHONE", recipient=bad_number),
                line("email", recipient=bad_number),
                line("email-fails", recipient=bad_email),
            ],
        )
    )
    status = {li.externalRefLineItemID: li.lineItemStatus for li in wait_final(client, r).lineItems}
    assert status == {
        "text": "COMPLETE",
        "text-fails": "FAILED",
        "email": "COMPLETE",
        "email-fails": "FAILED",
    }


def test_request_level_problems_are_400_with_field_errors(client: RaasClient) -> None:
    raw = client._http  # bypass the model to send what a careless caller might
    resp = raw.post(
        "/asyncOrders",
        json={
            "customerIdentifier": "sandbox-customer",
            "accountIdentifier": ACCOUNT,
            "lineItems": [{"utid": "X1", "amount": -1}],
        },
    )
    assert resp.status_code == 400
    body = resp.json()
    paths = {e["path"] for e in body["errors"]}
    assert {
        "externalRefID",
        "lineItems[0].utid",
        "lineItems[0].amount",
        "lineItems[0].recipient",
        "lineItems[0].deliveryMethod",
    } <= paths
    assert body["requestId"] and body["httpCode"] == 400
    malformed = raw.post(
        "/asyncOrders", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and "Malformed JSON" in malformed.json()["message"]


@pytest.mark.parametrize(
    ("customer", "account", "field"),
    [
        ("nobody-here", ACCOUNT, "customerIdentifier"),
        ("sandbox-customer", "acme-usd", "accountIdentifier"),  # exists, but not this customer's
    ],
)
def test_unknown_customer_or_account_is_400(client: RaasClient, customer, account, field) -> None:
    bad = order(ref(), [line("a")]).model_copy(
        update={"customerIdentifier": customer, "accountIdentifier": account}
    )
    with pytest.raises(InvalidRequestError) as info:
        client.create_async_order(bad)
    assert [e.field for e in info.value.errors] == [field]
    assert "HTTP 400" in str(info.value)


def _in(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


LINE_FAILURES = [
    ("unknown-utid", {"utid": "U999999"}, "utid", "UTID_NOT_FOUND"),
    ("inactive", {"utid": "U100011"}, "utid", "ITEM_INACTIVE"),
    ("too-much", {"amount": "2000.01"}, "amount", "INVALID_AMOUNT"),
    ("not-face", {"utid": "U100003", "amount": "11"}, "amount", "INVALID_AMOUNT"),
    ("fractional", {"utid": "U100010", "amount": "10.5"}, "amount", "INVALID_AMOUNT"),
    ("no-email-item", {"utid": "U100007"}, "deliveryMethod", "DELIVERY_METHOD_NOT_SUPPORTED"),
    (
        "physical-by-email",
        {"utid": "U100006", "amount": "50"},
        "deliveryMethod",
        "DELIVERY_METHOD_NOT_SUPPORTED",
    ),
    (
        "email-missing",
        {"recipient": {"firstName": "No", "mobileNumber": "+14155550100"}},
        "recipient.email",
        "INVALID_RECIPIENT",
    ),
    (
        "phone-not-e164",
        {"deliveryMethod": "PHONE", "recipient": {"mobileNumber": "4155550100"}},
        "recipient.mobileNumber",
        "INVALID_RECIPIENT",
    ),
    (
        "address-no-shipping",
        {
            "utid": "U100006",
            "amount": "50",
            "deliveryMethod": "ADDRESS",
            "recipient": {
                "address": {
                    "streetLine1": "1 Main St",
                    "city": "Reno",
                    "stateOrProvince": "NV",
                    "postalCode": "89501",
                    "country": "US",
                }
            },
        },
        "shippingMethod",
        "INVALID_RECIPIENT",
    ),
    (
        "too-soon",
        {"utid": "U100008", "deliveryDate": _in(3)},
        "deliveryDate",
        "INVALID_DELIVERY_DATE",
    ),
    (
        "too-late",
        {"utid": "U100008", "deliveryDate": _in(120)},
        "deliveryDate",
        "INVALID_DELIVERY_DATE",
    ),
    ("not-schedulable", {"deliveryDate": _in(10)}, "deliveryDate", "INVALID_DELIVERY_DATE"),
    ("other-currency", {"utid": "U100009"}, "utid", "CURRENCY_MISMATCH"),
]


def test_line_level_problems_fail_only_their_line(client: RaasClient) -> None:
    r = ref()
    lines = [line("good")] + [line(name, **over) for name, over, _, _ in LINE_FAILURES]
    before = client.get_account().currentBalance
    result = client.create_async_order(order(r, lines))
    assert result.http_code == 202
    failed = {f.externalRefLineItemID: f.errors for f in result.order.failedLineItems}
    assert set(failed) == {name for name, *_ in LINE_FAILURES}
    for name, _, field, code in LINE_FAILURES:
        assert (failed[name][0].field, failed[name][0].errorCodeName) == (field, code), name
    summary = wait_final(client, r)
    assert summary.orderStatus == "PARTIAL"
    assert client.get_account().currentBalance == before - Decimal("10.00")


def test_duplicate_line_ids_within_an_order_fail_the_repeats(client: RaasClient) -> None:
    result = client.create_async_order(order(ref(), [line("same"), line("same"), line("other")]))
    assert result.order.duplicateLineItemRefIds == {"same": 2}
    assert [f.errors[0].errorCodeName for f in result.order.failedLineItems] == [
        "DUPLICATE_LINE_ITEM"
    ]


def test_an_order_whose_every_line_fails_is_failed_and_left_out_of_the_list(
    client: RaasClient,
) -> None:
    r = ref()
    result = client.create_async_order(order(r, [line("x", utid="U999998")]))
    assert result.order.status == "FAILED"
    assert client.get_async_order(r).orderStatus == "FAILED"
    assert client.list_async_orders(externalRefID=r).orders == []


def test_scheduled_line_stays_pending_and_can_be_cancelled(client: RaasClient) -> None:
    r = ref()
    when = _in(10)
    client.create_async_order(
        order(r, [line("now"), line("later", utid="U100008", deliveryDate=when)])
    )
    summary = wait_final(client, r)
    later = next(li for li in summary.lineItems if li.externalRefLineItemID == "later")
    assert summary.orderStatus == "COMPLETE"
    assert later.lineItemStatus == "PENDING" and later.scheduledDeliveryDate.startswith(when)
    before = client.get_account().currentBalance
    client.cancel_line_item(later.referenceLineItemId, "RECIPIENT_REQUESTED")
    after = client.get_async_order(r)
    assert (
        next(li for li in after.lineItems if li.externalRefLineItemID == "later").lineItemStatus
        == "CANCELLED"
    )
    assert client.get_account().currentBalance == before + Decimal("10.00")


def test_insufficient_balance_is_402_and_changes_nothing(client: RaasClient) -> None:
    r = ref()
    before = client.get_account("sandbox-low").currentBalance
    with pytest.raises(InsufficientFundsError, match="HTTP 402") as info:
        client.create_async_order(
            order(r, [line("a", amount="40"), line("b", amount="40")], account="sandbox-low")
        )
    assert info.value.request_id
    assert client.get_account("sandbox-low").currentBalance == before
    with pytest.raises(NotFoundError):
        client.get_async_order(r, account="sandbox-low")


def test_too_many_line_items_is_400(client: RaasClient) -> None:
    lines = [line(f"l{i}") for i in range(501)]
    with pytest.raises(InvalidRequestError, match="at most 500"):
        client.create_async_order(order(ref(), lines))


def test_summary_pages_with_cursors(client: RaasClient) -> None:
    r = ref()
    client.create_async_order(order(r, [line(f"p{i:02d}", amount="1") for i in range(25)]))
    pages = list(client.iter_async_order_pages(r, max_results=10))
    assert [len(p.lineItems) for p in pages] == [10, 10, 5]
    ids = [li.externalRefLineItemID for p in pages for li in p.lineItems]
    assert ids == [f"p{i:02d}" for i in range(25)]
    assert client.get_async_order_summary(r, max_results=7).totalLineItems == 25


def test_list_orders_filters_and_pages(client: RaasClient) -> None:
    campaign = f"camp-{uuid4().hex[:6]}"
    refs = [ref() for _ in range(5)]
    for r in refs:
        client.create_async_order(order(r, [line("a", amount="1")], campaign=campaign))
    listed = list(client.iter_async_orders(campaign=campaign, maxResults=2))
    assert [o.externalRefID for o in listed] == refs
    assert all(o.accountIdentifier == ACCOUNT for o in listed)


def test_summary_never_contains_a_credential(client: RaasClient) -> None:
    r = ref()
    client.create_async_order(
        order(
            r,
            [
                line("c1"),
                line("c2", utid="U100005", amount="30"),
                line(
                    "c3",
                    utid="U100007",
                    deliveryMethod="PHONE",
                    recipient={"mobileNumber": "+14155550100"},
                ),
            ],
        )
    )
    wait_final(client, r)
    with_secrets = client.get_line_items_with_credentials(r)
    secrets = [c.value for li in with_secrets for rw in li.rewards for c in rw.credentialList]
    assert len(secrets) == 4 and len(set(secrets)) == 4  # card+PIN, URL, URL; all unique
    assert all(s and "SBXSECRET" in s for s in secrets)
    raw = client._http.get(f"/asyncOrders/customers/sandbox-customer/accounts/{ACCOUNT}/{r}").text
    assert not any(s in raw for s in secrets)
    # and a credential's repr (what a log line would show) hides the value
    assert not any(s in repr(with_secrets) for s in secrets)


def test_state_survives_a_restart(tmp_path) -> None:
    from sandbox import SandboxConfig, SandboxServer
    from tests.conftest import fast_retry, make_settings

    config = SandboxConfig(db_path=tmp_path / "persist.db", fulfil_latency_s=0.01)
    r = ref()
    with SandboxServer(config) as first, RaasClient(make_settings(first), retry=fast_retry()) as c:
        c.create_async_order(order(r, [line("a")]))
        wait_final(c, r)
        balance = c.get_account().currentBalance
    with (
        SandboxServer(SandboxConfig(db_path=tmp_path / "persist.db")) as second,
        RaasClient(make_settings(second), retry=fast_retry()) as c,
    ):
        assert c.get_async_order(r).orderStatus == "COMPLETE"
        assert c.get_account().currentBalance == balance
        assert c.create_async_order(order(r, [line("a")])).http_code == 200


ADDRESS = {
    "streetLine1": "1 Main St",
    "city": "Reno",
    "stateOrProvince": "NV",
    "postalCode": "89501",
    "country": "US",
}


def test_shipping_methods_are_tangos_enum_however_written(client: RaasClient) -> None:
    card = {"utid": "U100006", "amount": "50", "deliveryMethod": "ADDRESS"}
    written = line("card", **card, recipient={"address": ADDRESS}, shippingMethod="UPS Ground")
    r = ref()
    client.create_async_order(order(r, [written]))
    sent = client.get_line_items_with_credentials(r)[0]
    assert sent.shippingMethod == "upsground"
    with pytest.raises(InvalidRequestError) as info:
        client._send(
            "POST",
            "/asyncOrders",
            body={
                **order(ref(), [line("x")]).model_dump(mode="json", exclude_none=True),
                "lineItems": [{**line("x", **card), "shippingMethod": "teleport"}],
            },
        )
    assert [e.field for e in info.value.errors] == ["lineItems[0].shippingMethod"]
