"""Managing accounts and subscriptions through the client against the sandbox over HTTP:
updating an account, its low-balance alerts (and the event when the balance goes below one),
exchange rates, updating a webhook subscription, the event types."""

from __future__ import annotations

import json
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from raas import ConflictError, InvalidRequestError, NotFoundError, RaasClient
from sandbox import SandboxServer
from tests.helpers import CUSTOMER, Receiver, line, order, wait_final, wait_for


@pytest.fixture
def account(client: RaasClient, sandbox: SandboxServer) -> str:
    """An account of the test's own (100 USD), so alerts and balances are the test's."""
    ident = f"acct-{uuid4().hex[:8]}"
    client.create_account(CUSTOMER, ident, display_name="Alerts", contact_email="a@example.com")
    sandbox.admin.post(f"/accounts/{ident}/fund", json={"amount": "100"}).raise_for_status()
    return ident


def test_an_account_is_renamed_and_its_funding_contacts_replaced(
    client: RaasClient, account: str
) -> None:
    updated = client.update_account(
        CUSTOMER, account, display_name="Renamed", funding_notification=["f@example.com"]
    )
    assert updated.displayName == "Renamed" and updated.contactEmail == "a@example.com"
    assert [c.emailAddress for c in updated.fundingNotification] == ["f@example.com"]
    cleared = client.update_account(CUSTOMER, account, funding_notification=[])
    assert cleared.fundingNotification == [] and cleared.displayName == "Renamed"
    assert account in {a.accountIdentifier for a in client.list_customer_accounts(CUSTOMER)}
    assert account in {a.accountIdentifier for a in client.list_accounts()}
    with pytest.raises(NotFoundError):
        client.update_account(CUSTOMER, "no-such-account", display_name="x")
    with pytest.raises(ValidationError, match="contactEmail"):
        client.update_account(CUSTOMER, account, contact_email="not an address")


def test_low_balance_alerts_are_kept_changed_listed_and_deleted(
    client: RaasClient, account: str
) -> None:
    ids = {"customer": CUSTOMER, "account": account}
    first = client.create_low_balance_alert(Decimal("50"), emails=["ops@example.com"], **ids)
    second = client.create_low_balance_alert(Decimal("20"), display_name="Almost out", **ids)
    assert first.balanceAlertThreshold == 50 and first.balanceAlertDisplayName
    assert [c.emailAddress for c in first.balanceAlertNotification] == ["ops@example.com"]
    with pytest.raises(ConflictError, match="HTTP 409"):
        client.create_low_balance_alert(Decimal("50.00"), **ids)
    changed = client.update_low_balance_alert(first.balanceAlertID, threshold=Decimal("60"), **ids)
    assert changed.balanceAlertThreshold == 60
    assert [c.emailAddress for c in changed.balanceAlertNotification] == ["ops@example.com"]
    page = client.list_low_balance_alerts(elementsPerBlock=1, **ids)
    assert page.page.totalElements == 2 and page.page.totalPages == 2
    assert len(page.lowBalanceAlerts) == 1
    by_name = client.list_low_balance_alerts(balanceAlertDisplayName="Almost out", **ids)
    assert [a.balanceAlertID for a in by_name.lowBalanceAlerts] == [second.balanceAlertID]
    gone = client.delete_low_balance_alert(second.balanceAlertID, **ids)
    assert gone.status == "DELETED"
    with pytest.raises(NotFoundError, match="HTTP 404"):
        client.get_low_balance_alert(second.balanceAlertID, **ids)
    with pytest.raises(InvalidRequestError, match="HTTP 400"):  # the document has no 404 here
        client.delete_low_balance_alert(second.balanceAlertID, **ids)


def test_an_alert_needs_a_positive_threshold_and_real_addresses(
    client: RaasClient, account: str
) -> None:
    path = f"/customers/{CUSTOMER}/accounts/{account}/lowbalance"
    for body, field in (
        ({"balanceAlertDisplayName": "no threshold"}, "balanceAlertThreshold"),
        ({"balanceAlertThreshold": -5}, "balanceAlertThreshold"),
        (
            {"balanceAlertThreshold": 5, "balanceAlertNotification": [{"emailAddress": "x"}]},
            "balanceAlertNotification",
        ),
    ):
        with pytest.raises(InvalidRequestError, match="HTTP 400") as info:
            client._send("POST", path, body=body)
        assert info.value.errors[0].field == field
    with pytest.raises(InvalidRequestError, match="HTTP 400"):
        client.create_low_balance_alert(Decimal("5"), customer="acme-corp", account=account)


def test_going_below_an_alert_is_announced_once(
    client: RaasClient, account: str, sandbox: SandboxServer
) -> None:
    ids = {"customer": CUSTOMER, "account": account}
    alert = client.create_low_balance_alert(Decimal("75"), **ids)
    with Receiver() as rx:
        sub = client.create_webhook(rx.url, verification="NONE", event_types=["LowBalance"])
        for n, amount in enumerate(("20", "20", "20")):  # 100 -> 80 -> 60 (below) -> 40
            ref = f"low-{uuid4().hex[:8]}-{n}"
            client.create_async_order(order(ref, [line("a", amount=amount)], account=account))
            wait_final(client, ref, account=account)
        events = wait_for(
            lambda: [
                json.loads(body)["eventData"]
                for _, body in rx.requests
                if json.loads(body)["eventData"]["accountIdentifier"] == account
            ]
        )
        assert [(e["balance"], e["balanceThreshold"]) for e in events] == [(60, 75)]
        assert events[0]["balanceAlertIdentifier"] == alert.balanceAlertID
        client.delete_webhook(sub.webhookId)


def test_exchange_rates_for_the_asked_currencies(client: RaasClient) -> None:
    everything = client.get_exchange_rates()
    assert everything.disclaimer and len(everything.exchangeRates) > 10
    usd = client.get_exchange_rates(base_currencies=["USD"], reward_currencies=["EUR", "GBP"])
    pairs = {(r.baseCurrency, r.rewardCurrency): Decimal(r.baseFx) for r in usd.exchangeRates}
    assert set(pairs) == {("USD", "EUR"), ("USD", "GBP")} and pairs["USD", "GBP"] > 1
    paged = client._json("GET", "/exchangerates", params={"paginate": "true", "maxResults": 3})
    assert len(paged["exchangeRates"]) == 3 and paged["nextPageAvailable"] is True


def test_a_webhook_subscription_is_updated_and_checked_again(client: RaasClient) -> None:
    sub = client.create_webhook("http://127.0.0.1:9/a", verification="NONE")
    updated = client.update_webhook(
        sub.webhookId, url="http://127.0.0.1:9/b", event_types=["AsyncOrderStatus", "RewardStatus"]
    )
    assert updated.url.endswith("/b") and updated.eventTypes == ["AsyncOrderStatus", "RewardStatus"]
    assert client.get_webhook(sub.webhookId).url.endswith("/b")
    with pytest.raises(InvalidRequestError, match="hmacSharedSecretKey"):
        client.update_webhook(sub.webhookId, verification="HMAC")
    with pytest.raises(InvalidRequestError, match="HTTP 400"):
        client.update_webhook(str(uuid4()), url="http://127.0.0.1:9/c")
    client.delete_webhook(sub.webhookId)


def test_event_types_by_category(client: RaasClient) -> None:
    types = {t.category: t.eventTypes for t in client.get_event_types()}
    assert "AsyncOrderStatus" in types["orders"] and "LowBalance" in types["accounts"]
