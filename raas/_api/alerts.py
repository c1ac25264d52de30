"""An account's low-balance alerts. Creating one is not retried after a 5xx or a timeout (a
repeat is refused 409: one alert per threshold); updating and deleting are."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .._accounts import (
    DeletedBalanceAlert,
    LowBalanceAlert,
    LowBalanceAlertCriteria,
    LowBalanceAlertList,
    UpdateLowBalanceAlertCriteria,
)
from .._models import EmailContact
from .._transport import Transport


def _contacts(emails: list[str] | None) -> list[EmailContact] | None:
    return None if emails is None else [EmailContact(emailAddress=e) for e in emails]


class AlertsAPI(Transport):
    def _alerts_path(self, customer: str | None, account: str | None) -> str:
        c, a = self._ids(customer, account)
        return f"/customers/{c}/accounts/{a}/lowbalance"

    def list_low_balance_alerts(
        self, *, customer: str | None = None, account: str | None = None, **filters: Any
    ) -> LowBalanceAlertList:
        """One page (``page`` from 0, ``elementsPerBlock``) of the account's alerts."""
        path = self._alerts_path(customer, account)
        return LowBalanceAlertList.model_validate(self._json("GET", path, params=filters))

    def create_low_balance_alert(
        self,
        threshold: Decimal,
        *,
        display_name: str | None = None,
        emails: list[str] | None = None,
        customer: str | None = None,
        account: str | None = None,
    ) -> LowBalanceAlert:
        criteria = LowBalanceAlertCriteria(
            balanceAlertThreshold=threshold,
            balanceAlertDisplayName=display_name,
            balanceAlertNotification=_contacts(emails) or [],
        )
        body = criteria.model_dump(mode="json", exclude_none=True)
        path = self._alerts_path(customer, account)
        return LowBalanceAlert.model_validate(self._json("POST", path, body=body))

    def get_low_balance_alert(
        self, alert_id: str, *, customer: str | None = None, account: str | None = None
    ) -> LowBalanceAlert:
        path = f"{self._alerts_path(customer, account)}/{alert_id}"
        return LowBalanceAlert.model_validate(self._json("GET", path))

    def update_low_balance_alert(
        self,
        alert_id: str,
        *,
        threshold: Decimal | None = None,
        display_name: str | None = None,
        emails: list[str] | None = None,
        customer: str | None = None,
        account: str | None = None,
    ) -> LowBalanceAlert:
        """``emails`` replaces the alert's addresses ([] clears them; None leaves them)."""
        change = UpdateLowBalanceAlertCriteria(
            balanceAlertThreshold=threshold,
            balanceAlertDisplayName=display_name,
            balanceAlertNotification=_contacts(emails),
        )
        body = change.model_dump(mode="json", exclude_none=True)
        path = f"{self._alerts_path(customer, account)}/{alert_id}"
        return LowBalanceAlert.model_validate(self._json("PATCH", path, body=body))

    def delete_low_balance_alert(
        self, alert_id: str, *, customer: str | None = None, account: str | None = None
    ) -> DeletedBalanceAlert:
        path = f"{self._alerts_path(customer, account)}/{alert_id}"
        return DeletedBalanceAlert.model_validate(self._json("DELETE", path))
