"""Async orders: place one (safe to repeat), read its summary, its line items, the list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .._line_items import UpdateAsyncOrderCriteria
from .._models import (
    AsyncLineItemView,
    AsyncLineItemWithCredentials,
    AsyncOrderDetailView,
    AsyncOrderEntity,
    AsyncOrderLineItemsView,
    AsyncOrderListView,
    AsyncOrderView,
    CreateAsyncOrderCriteria,
)
from .._resilience import RetryPolicy
from .._transport import Transport, loads


@dataclass(frozen=True)
class OrderSubmission:
    """What ``POST /asyncOrders`` answered: ``created`` is False when Tango returned the
    original order for an ``externalRefID`` it had seen (HTTP 200 instead of 202)."""

    order: AsyncOrderEntity
    created: bool
    http_code: int


class OrdersAPI(Transport):
    def create_async_order(
        self,
        order: CreateAsyncOrderCriteria,
        *,
        retry: RetryPolicy | None = None,
        before_attempt: Callable[[], None] | None = None,
    ) -> OrderSubmission:
        """Place an async order. Safe to repeat: the same ``externalRefID`` never makes a
        second order (Tango returns the original with HTTP 200)."""
        body = order.model_dump(mode="json", exclude_none=True)
        response = self._send(
            "POST",
            "/asyncOrders",
            body=body,
            repeatable=True,
            retry=retry,
            before_attempt=before_attempt,
        )
        entity = AsyncOrderEntity.model_validate(loads(response.content))
        return OrderSubmission(
            entity, created=response.status_code == 202, http_code=response.status_code
        )

    def _order_path(self, external_ref_id: str, customer: str | None, account: str | None) -> str:
        c, a = self._ids(customer, account)
        return f"/asyncOrders/customers/{c}/accounts/{a}/{external_ref_id}"

    def get_async_order(
        self,
        external_ref_id: str,
        *,
        customer: str | None = None,
        account: str | None = None,
        max_results: int | None = None,
        next_cursor: str | None = None,
        failed_only: bool | None = None,
        retry: RetryPolicy | None = None,
    ) -> AsyncOrderDetailView:
        """One page of the order summary. Never contains credentials."""
        params = {
            "maxResults": max_results,
            "nextCursor": next_cursor,
            "failedOnly": None if failed_only is None else str(failed_only).lower(),
        }
        path = self._order_path(external_ref_id, customer, account)
        return AsyncOrderDetailView.model_validate(
            self._json("GET", path, params=params, retry=retry)
        )

    def update_async_order(
        self,
        external_ref_id: str,
        *,
        campaign: str | None = None,
        purchase_order_number: str | None = None,
        notes: str | None = None,
        customer: str | None = None,
        account: str | None = None,
    ) -> AsyncOrderDetailView:
        """Change an order's campaign, purchase order number or notes; answers its summary
        (first page). A PATCH sets values, so it is retried like a read."""
        change = UpdateAsyncOrderCriteria(
            campaign=campaign, purchaseOrderNumber=purchase_order_number, notes=notes
        )
        path = self._order_path(external_ref_id, customer, account)
        body = change.model_dump(mode="json", exclude_none=True)
        return AsyncOrderDetailView.model_validate(self._json("PATCH", path, body=body))

    def iter_async_order_pages(
        self, external_ref_id: str, *, max_results: int | None = None, **kw: Any
    ) -> Iterator[AsyncOrderDetailView]:
        """Every page of the order summary, following ``nextCursor``."""
        cursor: str | None = None
        while True:
            page = self.get_async_order(
                external_ref_id, max_results=max_results, next_cursor=cursor, **kw
            )
            yield page
            pagination = page.pagination
            if not pagination or not pagination.nextPageAvailable or not pagination.nextCursor:
                return
            cursor = pagination.nextCursor

    def get_async_order_summary(self, external_ref_id: str, **kw: Any) -> AsyncOrderDetailView:
        """The order summary with the line items of all pages in one object."""
        pages = list(self.iter_async_order_pages(external_ref_id, **kw))
        items: list[AsyncLineItemView] = [li for page in pages for li in page.lineItems]
        return pages[0].model_copy(update={"lineItems": items, "pagination": None})

    def list_async_orders(self, **filters: Any) -> AsyncOrderListView:
        """One page of ``GET /asyncOrders``. Filters use Tango's query names
        (``accountIdentifier``, ``externalRefID``, ``orderStatus``, ``nextCursor``, ...).
        Tango leaves FAILED orders out of this list: fetch those by ``externalRefID``."""
        return AsyncOrderListView.model_validate(self._json("GET", "/asyncOrders", params=filters))

    def iter_async_orders(self, **filters: Any) -> Iterator[AsyncOrderView]:
        cursor = filters.pop("nextCursor", None)
        while True:
            page = self.list_async_orders(**filters, nextCursor=cursor)
            yield from page.orders
            if not page.nextPageAvailable or not page.nextCursor:
                return
            cursor = page.nextCursor

    def get_line_items_with_credentials(
        self,
        external_ref_id: str,
        *,
        customer: str | None = None,
        account: str | None = None,
        max_results: int | None = None,
    ) -> list[AsyncLineItemWithCredentials]:
        """SECRET: the order's line items *with their reward credentials* (codes, PINs, links).

        The only method that fetches credentials. Keep the result out of logs, artifacts
        and reports; a ``Credential``'s repr hides its value.
        """
        path = self._order_path(external_ref_id, customer, account) + "/lineItems"
        out: list[AsyncLineItemWithCredentials] = []
        cursor: str | None = None
        while True:
            params = {"maxResults": max_results, "nextCursor": cursor}
            page = AsyncOrderLineItemsView.model_validate(self._json("GET", path, params=params))
            out.extend(page.lineItems)
            p = page.pagination
            if not p or not p.nextPageAvailable or not p.nextCursor:
                return out
            cursor = p.nextCursor
