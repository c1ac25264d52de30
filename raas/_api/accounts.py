"""Catalog, customers and accounts."""

from __future__ import annotations

from typing import Any

from .._models import Account, Catalog, CatalogItem, Customer
from .._transport import Transport


class AccountsAPI(Transport):
    def get_catalog(self) -> Catalog:
        return Catalog.model_validate(self._json("GET", "/catalogs", params={"verbose": "true"}))

    def get_catalog_item(self, utid: str) -> CatalogItem | None:
        return self.get_catalog().item(utid)

    def get_account(self, account_identifier: str | None = None) -> Account:
        account = account_identifier or self.settings.account_identifier
        if not account:
            raise ValueError("an account identifier is required (or TANGO_ACCOUNT_IDENTIFIER)")
        return Account.model_validate(self._json("GET", f"/accounts/{account}"))

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
    ) -> dict[str, Any]:
        body = {
            "accountIdentifier": account_identifier,
            "displayName": display_name,
            "contactEmail": contact_email,
            "currencyCode": currency_code,
        }
        return self._json("POST", f"/customers/{customer_identifier}/accounts", body=body)
