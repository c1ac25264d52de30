"""The RaaS v2 client: one class, typed results, one place for retries and pacing."""

from __future__ import annotations

from ._api.accounts import AccountsAPI
from ._api.alerts import AlertsAPI
from ._api.line_items import LineItemsAPI
from ._api.orders import OrdersAPI, OrderSubmission
from ._api.webhooks import WebhooksAPI

__all__ = ["OrderSubmission", "RaasClient"]


class RaasClient(AccountsAPI, AlertsAPI, OrdersAPI, LineItemsAPI, WebhooksAPI):
    """Synchronous, thread-safe client for Tango RaaS v2, every operation of its document.

    Retries follow one rule set (``Transport._send``): 429 and failures to connect are always
    retried; 5xx and timeouts only for requests a repeat cannot make happen twice: GET, DELETE,
    PATCH (they set values), ``POST /asyncOrders`` (its ``externalRefID`` makes a repeat return
    the original order), cancel / freeze / unfreeze (Tango applies each at most once; a retry
    refused as "already so" means the lost attempt did it), reissue (a repeat answers the
    replacement), webhook renew and replay. Not retried: a resend (it would deliver again),
    creating a customer, an account, a subscription or an alert, a webhook test. The
    operations live in ``raas/_api/``, one module per area.
    """
