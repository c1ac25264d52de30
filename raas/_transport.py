"""The transport every call goes through: auth, pacing, and the one retry rule (:meth:`_send`)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Self

import httpx

from . import _errors as errors
from ._auth import OAuthClientCredentials, basic_auth
from ._resilience import RETRYABLE_STATUSES, RateLimiter, RetryPolicy, parse_retry_after
from ._settings import TangoSettings

log = logging.getLogger("raas")


class Transport:
    """Synchronous, thread-safe HTTP to Tango RaaS v2; the operations are in ``raas/_api/``.

    Retries follow one rule set (:meth:`_send`): 429 and failures to connect are always
    retried; 5xx and timeouts only for requests that are safe to repeat (each operation says
    whether it is, and why).
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
        return f"{type(self).__name__}(base_url={self.settings.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
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
        done_if: Callable[[errors.APIStatusError], bool] | None = None,
    ) -> httpx.Response:
        """Send, retrying as the one rule says.

        ``repeatable``: a repeat cannot do anything twice, so 5xx and timeouts are retried too
        (default: GET, DELETE and PATCH, which only set values). ``done_if``: for a repeatable
        action that refuses to be done twice (cancel, freeze...), a refusal it accepts after
        an attempt that may have gone through means that attempt did it: the refusal's
        response is returned as the answer. ``retry`` replaces the client's policy for this
        request; ``before_attempt`` runs before every attempt and may raise to stop (e.g. a
        lease that no longer holds)."""
        retry = retry or self.retry
        if repeatable is None:
            repeatable = method in ("GET", "DELETE", "PATCH")
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        uncertain = False  # an earlier attempt may have been processed
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
                    if uncertain and done_if and done_if(failure):
                        log.info("%s %s: done by an earlier attempt (%s)", method, path, failure)
                        return response
                    raise failure
            may_retry = (not sent) or repeatable
            retry_after = (
                failure.retry_after if isinstance(failure, errors.RateLimitError) else None
            )
            pause = retry.delay(attempt, retry_after)
            if not may_retry or retry.gives_up(attempt, pause):
                raise failure
            uncertain = uncertain or sent
            line = f"retrying {method} {path} in {pause:.1f}s (attempt {attempt}): {failure}"
            log.info("%s", line)
            if retry.notify:
                retry.notify(line)
            time.sleep(pause)

    @staticmethod
    def _error(response: httpx.Response, path: str) -> errors.APIStatusError:
        try:
            body = loads(response.content)
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
            return loads(response.content)
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


def loads(content: bytes) -> Any:
    return json.loads(content, parse_float=Decimal)
