"""The RaaS v2 client: one class, typed results, one place for retries and pacing."""

from __future__ import annotations

from ._api.accounts import AccountsAPI
from ._api.line_items import LineItemsAPI
from ._api.orders import OrdersAPI, OrderSubmission
from ._api.webhooks import WebhooksAPI

__all__ = ["OrderSubmission", "RaasClient"]


class RaasClient(AccountsAPI, OrdersAPI, LineItemsAPI, WebhooksAPI):
    """Synchronous, thread-safe client for Tango RaaS v2, every operation of its document.

    Retries follow one rule set (``Transport._send``): 429 and failures to connect are always
    retried; 5xx and timeouts only for requests that are safe to repeat (GET, DELETE, and
    ``POST /asyncOrders``, whose ``externalRefID`` makes a repeat return the original order).
    The operations live in ``raas/_api/``, one module per area.
    """
