"""The RaaS v2 client: one class, typed results, one place for retries and pacing."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from . import _errors as errors
from ._auth import OAuthClientCredentials, basic_auth
from ._models import (
    Account,
    AsyncLineItemView,
    AsyncLineItemWithCredentials,
    AsyncOrderDetailView,
    AsyncOrderEntity,
    AsyncOrderLineItemsView,
    AsyncOrderListView,
    AsyncOrderView,
    Catalog,
    CatalogItem,
    CreateAsyncOrderCriteria,
    Customer,
    WebhookEventsPage,
    WebhookSubscription,
)
from ._resilience import RETRYABLE_STATUSES, RateLimiter, RetryPolicy, parse_retry_after
from ._settings import TangoSettings

log = logging.getLogger("raas")


@dataclass(frozen=True)
class OrderSubmission:
    """What ``POST /asyncOrders`` answered: ``created`` is False when Tango returned the
    original order for an ``externalRefID`` it had seen (HTTP 200 instead of 202)."""

    order: AsyncOrderEntity
    created: bool
    http_code: int


class RaasClient:
    """Synchronous, thread-safe client for Tango RaaS v2.

    Retries follow one rule set (:meth:`_send`): 429 and failures to connect are always
    retried; 5xx and timeouts only for requests that are safe to repeat (GET, DELETE, and
    ``POST /asyncOrders``, whose ``externalRefID`` makes a repeat return the original order).
    """

    def __init__(
        self,
        settings: TangoSettings,
        *,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        pace: Callable[[], None] | None = None,
    ) -> None:
        """``pace`` is called before every request: a shared limiter (e.g. a Prefect global
        concurrency limit used as a rate limit) on top of the client's own pacing."""
        self.settings = settings
        self.retry = retry or RetryPolicy(max_attempts=settings.max_attempts)
        self._pace = pace
        self._limiter = (
            RateLimiter(settings.requests_per_second) if settings.requests_per_second else None
        )
        self.auth: httpx.Auth
        if settings.uses_oauth:
            assert settings.client_id and settings.client_secret and settings.token_url
            self.auth = OAuthClientCredentials(
                settings.token_url,
                settings.client_id,
                settings.client_secret,
                audience=settings.audience,
                scope=settings.scope,
                timeout_seconds=settings.timeout_seconds,
            )
        else:
            assert settings.platform_name and settings.platform_key
            self.auth = basic_auth(settings.platform_name, settings.platform_key)
        self._http = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            auth=self.auth,
            timeout=settings.timeout_seconds,
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"RaasClient(base_url={self.settings.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RaasClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        repeatable: bool | None = None,
        retry: RetryPolicy | None = None,
        before_attempt: Callable[[], None] | None = None,
    ) -> httpx.Response:
        """``retry`` replaces the client's policy for this request; ``before_attempt`` runs
        before every attempt and may raise to stop (e.g. a lease that no longer holds)."""
        retry = retry or self.retry
        if repeatable is None:
            repeatable = method in ("GET", "DELETE")
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            attempt += 1
            if before_attempt:
                before_attempt()
            if self._limiter:
                self._limiter.acquire()
            if self._pace:
                self._pace()
            self.requests_sent += 1
            try:
                response = self._http.request(method, path, params=clean_params, json=body)
            except httpx.TimeoutException as exc:
                failure: errors.RaasError = errors.APITimeoutError(
                    f"No answer from Tango within {self.settings.timeout_seconds}s "
                    f"after {attempt} attempt(s); the request may have been processed",
                    path=path,
                )
                sent = not isinstance(exc, httpx.ConnectTimeout)
            except httpx.TransportError as exc:
                failure = errors.APIConnectionError(
                    f"Could not reach Tango after {attempt} attempt(s): {type(exc).__name__}",
                    path=path,
                )
                sent = not isinstance(exc, httpx.ConnectError)
            else:
                log.debug("%s %s -> %s", method, path, response.status_code)
                if response.status_code < 400:
                    return response
                failure = self._error(response, path)
                sent = response.status_code != 429
                if response.status_code not in RETRYABLE_STATUSES:
                    raise failure
            may_retry = (not sent) or repeatable
            retry_after = (
                failure.retry_after if isinstance(failure, errors.RateLimitError) else None
            )
            pause = retry.delay(attempt, retry_after)
            if not may_retry or retry.gives_up(attempt, pause):
                raise failure
            line = f"retrying {method} {path} in {pause:.1f}s (attempt {attempt}): {failure}"
            log.info("%s", line)
            if retry.notify:
                retry.notify(line)
            time.sleep(pause)

    @staticmethod
    def _error(response: httpx.Response, path: str) -> errors.APIStatusError:
        try:
            body = _loads(response.content)
        except ValueError:
            body = None
        return errors.from_response(
            response.status_code,
            body,
            path=path,
            header_request_id=response.headers.get("x-request-id"),
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = self._send(method, path, **kw)
        if not response.content:
            return None
        try:
            return _loads(response.content)
        except ValueError:
            return response.text

    def _ids(self, customer: str | None, account: str | None) -> tuple[str, str]:
        customer = customer or self.settings.customer_identifier
        account = account or self.settings.account_identifier
        if not customer or not account:
            raise ValueError(
                "customer and account identifiers are required: pass them or set "
                "TANGO_CUSTOMER_IDENTIFIER and TANGO_ACCOUNT_IDENTIFIER"
            )
        return customer, account

    # --- catalog, accounts, customers -----------------------------------------------------

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
    ) -> dict[str, Any]:
        body = {
            "accountIdentifier": account_identifier,
            "displayName": display_name,
            "contactEmail": contact_email,
            "currencyCode": currency_code,
        }
        return self._json("POST", f"/customers/{customer_identifier}/accounts", body=body)

    # --- async orders ---------------------------------------------------------------------

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
        entity = AsyncOrderEntity.model_validate(_loads(response.content))
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

    def cancel_line_item(
        self,
        reference_line_item_id: str,
        reason_code: str = "OTHER",
        other_reason: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"reasonCode": reason_code}
        if other_reason:
            body["otherReason"] = other_reason
        self._send("POST", f"/lineItems/{reference_line_item_id}/cancel", body=body)

    # --- webhooks ---------------------------------------------------------------------------

    def create_webhook(
        self,
        url: str,
        *,
        event_types: list[str] | None = None,
        categories: list[str] | None = None,
        headers: dict[str, str] | None = None,
        verification: str = "HMAC",
        hmac_shared_secret_key: str | None = None,
        signing_certificate: str | None = None,
    ) -> WebhookSubscription:
        body: dict[str, Any] = {
            "url": url,
            "eventTypes": event_types or ["AsyncOrderStatus"],
            "payloadVerificationMethod": verification,
            "headers": [{"name": k, "value": v} for k, v in (headers or {}).items()],
        }
        if categories:
            body["categories"] = categories
        if hmac_shared_secret_key:
            body["hmacSharedSecretKey"] = hmac_shared_secret_key
        if signing_certificate:
            body["signingCertificate"] = signing_certificate
        created = self._json("POST", "/webhooks", body=body)
        return self.get_webhook(created["webhookId"])

    def list_webhooks(self) -> list[WebhookSubscription]:
        data = self._json("GET", "/webhooks")
        return [WebhookSubscription.model_validate(w) for w in data.get("items", [])]

    def get_webhook(self, webhook_id: str) -> WebhookSubscription:
        return WebhookSubscription.model_validate(self._json("GET", f"/webhooks/{webhook_id}"))

    def delete_webhook(self, webhook_id: str) -> None:
        self._send("DELETE", f"/webhooks/{webhook_id}")

    def renew_webhook(self, webhook_id: str) -> str:
        """Extend the subscription; returns the new ``expiresAt``."""
        return self._json("POST", f"/webhooks/{webhook_id}/renew", repeatable=True)["expiresAt"]

    def iter_webhook_events(
        self,
        webhook_id: str,
        *,
        from_revision: int | None = None,
        to_revision: int | None = None,
        max_results: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Past events of a subscription (raw dicts; parse with :func:`raas.parse_async_order_event`)."""
        cursor: str | None = None
        while True:
            params = {
                "fromRevision": from_revision,
                "toRevision": to_revision,
                "maxResults": max_results,
                "nextCursor": cursor,
            }
            page = WebhookEventsPage.model_validate(
                self._json("GET", f"/webhooks/{webhook_id}/events", params=params)
            )
            yield from page.items
            if not page.nextPageAvailable or not page.nextCursor:
                return
            cursor = page.nextCursor

    def replay_webhook_events(
        self, webhook_id: str, from_revision: int, to_revision: int | None = None
    ) -> None:
        params = {"fromRevision": from_revision, "toRevision": to_revision}
        self._send("POST", f"/webhooks/{webhook_id}/replay", params=params, repeatable=True)

    def test_webhook(self, webhook_id: str, test_name: str | None = None) -> None:
        path = f"/webhooks/{webhook_id}/tests" + (f"/{test_name}" if test_name else "")
        self._send("POST", path)


def _loads(content: bytes) -> Any:
    return json.loads(content, parse_float=Decimal)
