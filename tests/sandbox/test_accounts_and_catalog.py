"""Catalog, customers and accounts through the client against the sandbox over HTTP."""

from decimal import Decimal
from uuid import uuid4

import pytest

from raas import AuthenticationError, ConflictError, InvalidRequestError, NotFoundError, RaasClient
from tests.conftest import fast_retry, make_settings


def test_catalog_lookup_by_utid(client: RaasClient) -> None:
    catalog = client.get_catalog()
    assert len(catalog.brands) >= 10
    item = catalog.item("u100003")  # Tango's pattern allows a lower-case u
    assert item is not None and item.valueType == "FIXED_VALUE" and item.faceValue == Decimal("10")
    assert client.get_catalog_item("U999999") is None
    currencies = {i.currencyCode for i in catalog.items()}
    assert {"USD", "GBP", "EUR"} <= currencies


def test_account_balance_and_currency(client: RaasClient) -> None:
    account = client.get_account("sandbox-gbp")
    assert account.currencyCode == "GBP"
    assert isinstance(account.currentBalance, Decimal) and account.currentBalance > 0
    with pytest.raises(NotFoundError, match="HTTP 404"):
        client.get_account("no-such-account")


def test_customers_with_their_accounts(client: RaasClient) -> None:
    customers = {c.customerIdentifier: c for c in client.list_customers()}
    accounts = {a.accountIdentifier for a in customers["sandbox-customer"].accounts}
    assert {"sandbox-usd", "sandbox-gbp"} <= accounts


def test_new_customer_and_account_start_at_zero_and_can_be_funded(
    client: RaasClient, sandbox
) -> None:
    cust = f"cust-{uuid4().hex[:8]}"
    client.create_customer(cust, "New Customer Ltd")
    with pytest.raises(ConflictError, match="HTTP 409"):
        client.create_customer(cust, "New Customer Ltd")
    client.create_account(
        cust,
        f"{cust}-eur",
        display_name="EUR pot",
        contact_email="a@example.com",
        currency_code="EUR",
    )
    account = client.get_account(f"{cust}-eur")
    assert account.currentBalance == 0 and account.currencyCode == "EUR"
    sandbox.admin.post(f"/accounts/{cust}-eur/fund", json={"amount": "250.25"})
    assert client.get_account(f"{cust}-eur").currentBalance == Decimal("250.25")
    with pytest.raises(InvalidRequestError) as info:
        client.create_customer("bad id!", "x")
    assert any(e.field == "customerIdentifier" for e in info.value.errors)


def test_wrong_credentials_are_an_authentication_error(sandbox) -> None:
    settings = make_settings(sandbox, platform_key="wrong")
    with (
        RaasClient(settings, retry=fast_retry()) as bad,
        pytest.raises(AuthenticationError, match="HTTP 401") as info,
    ):
        bad.get_account()
    assert info.value.request_id
    assert "wrong" not in str(info.value)
