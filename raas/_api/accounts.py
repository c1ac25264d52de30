"""Catalog and exchange rates, customers and accounts. Creating a customer or an account is
not retried after a 5xx or a timeout (a repeat is refused 409); updating one is (it sets values)."""

from __future__ import annotations

from typing import Any

from .._accounts import CreatedAccount, ExchangeRates, UpdateAccountCriteria
from .._models import Account, Catalog, CatalogItem, Customer, EmailContact
from .._resilience import RetryPolicy
from .._transport import Transport


class AccountsAPI(Transport):
    def get_catalog(self, *, retry: RetryPolicy | None = None) -> Catalog:
        return Catalog.model_validate(
            self._json("GET", "/catalogs", params={"verbose": "true"}, retry=retry)
        )

    def get_catalog_item(self, utid: str) -> CatalogItem | None:
        return self.get_catalog().item(utid)

    def get_account(
        self, account_identifier: str | None = None, *, retry: RetryPolicy | None = None
    ) -> Account:
        account = account_identifier or self.settings.account_identifier
        if not account:
            raise ValueError("an account identifier is required (or TANGO_ACCOUNT_IDENTIFIER)")
        return Account.model_validate(self._json("GET", f"/accounts/{account}", retry=retry))

    def list_customers(self) -> list[Customer]:
        return [Customer.model_validate(c) for c in self._json("GET", "/customers")]

    def get_customer(self, customer_identifier: str) -> Customer:
        return Customer.model_validate(self._json("GET", f"/customers/{customer_identifier}"))

    def create_customer(self, customer_identifier: str, display_name: str) -> Customer:
        body = {"customerIdentifier": customer_identifier, "displayName": display_name}
        return Customer.model_validate(self._json("POST", "/customers", body=body))

    def create_account(
        self,
        customer_identifier: str,
        account_identifier: str,
        *,
        display_name: str,
        contact_email: str,
        currency_code: str = "USD",
    ) -> CreatedAccount:
        body = {
            "accountIdentifier": account_identifier,
            "displayName": display_name,
            "contactEmail": contact_email,
            "currencyCode": currency_code,
        }
        path = f"/customers/{customer_identifier}/accounts"
        return CreatedAccount.model_validate(self._json("POST", path, body=body))

    def list_accounts(self) -> list[Account]:
        """Every account of the platform."""
        return [Account.model_validate(a) for a in self._json("GET", "/accounts")]

    def list_customer_accounts(self, customer_identifier: str) -> list[Account]:
        path = f"/customers/{customer_identifier}/accounts"
        return [Account.model_validate(a) for a in self._json("GET", path)]

    def update_account(
        self,
        customer_identifier: str,
        account_identifier: str,
        *,
        display_name: str | None = None,
        contact_email: str | None = None,
        funding_notification: list[str] | None = None,
    ) -> Account:
        """``funding_notification`` replaces the addresses told of fundings ([] clears them)."""
        change = UpdateAccountCriteria(
            displayName=display_name,
            contactEmail=contact_email,
            fundingNotification=None
            if funding_notification is None
            else [EmailContact(emailAddress=e) for e in funding_notification],
        )
        path = f"/customers/{customer_identifier}/accounts/{account_identifier}"
        body = change.model_dump(mode="json", exclude_none=True)
        return Account.model_validate(self._json("PATCH", path, body=body))

    def get_exchange_rates(
        self,
        *,
        base_currencies: list[str] | None = None,
        reward_currencies: list[str] | None = None,
    ) -> ExchangeRates:
        """What a unit of each reward currency costs in each base (account) currency."""
        params: dict[str, Any] = {
            "baseCurrency": base_currencies,
            "rewardCurrency": reward_currencies,
        }
        return ExchangeRates.model_validate(self._json("GET", "/exchangerates", params=params))
