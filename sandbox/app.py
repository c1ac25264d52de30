"""The sandbox's HTTP face: Tango's paths under ``/raas/v2``, an OAuth token endpoint, and an
admin API under ``/sandbox`` (faults, funding, tokens, stats, certificates) that Tango does not
have. Both need the platform credentials (Basic, or a Bearer token); only ``/sandbox/health``
and the sandbox's own docs are open."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from raas.webhooks import new_x509_pair

from .config import Faults, SandboxConfig
from .engine import Engine
from .errors import ApiError, error_info

PREFIX = "/raas/v2"


class TangoJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_num, separators=(",", ":")).encode()


def _num(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # a JSON number, as Tango sends; 2-decimal money round-trips
    raise TypeError(type(value).__name__)


class TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float | None:
        """None if allowed, else seconds until a token is free."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
            return (1 - self.tokens) / self.rate


class Workers:
    """Background fulfilment and webhook delivery threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [
            threading.Thread(
                target=self._loop, args=(self._fulfil,), name="sandbox-fulfil", daemon=True
            ),
            threading.Thread(
                target=self._loop, args=(self._deliver,), name="sandbox-webhooks", daemon=True
            ),
        ]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)

    def _fulfil(self) -> int:
        return self.engine.process_due()

    def _deliver(self) -> int:
        return self.engine.deliver_due(self._http)

    def _loop(self, step: Callable[[], int]) -> None:
        with httpx.Client(timeout=5.0) as http:
            self._http = http
            while not self._stop.is_set():
                try:
                    busy = step()
                except Exception:  # keep the worker alive; the error is in the log
                    import logging

                    logging.getLogger("sandbox").exception("sandbox worker step failed")
                    busy = 0
                if not busy:
                    self._stop.wait(self.engine.config.tick_s)


def create_app(config: SandboxConfig) -> FastAPI:
    engine = Engine(config)
    workers = Workers(engine)
    bucket = TokenBucket(config.requests_per_second) if config.requests_per_second else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers.start()
        yield
        workers.stop()
        engine.store.close()

    app = FastAPI(
        title="Tango RaaS sandbox",
        lifespan=lifespan,
        docs_url="/sandbox/docs",
        openapi_url="/sandbox/openapi.json",
    )
    app.state.engine = engine

    def fail(
        request: Request,
        status: int,
        message: str,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        rid = request.state.request_id if hasattr(request.state, "request_id") else None
        body = error_info(status, message, request.url.path, errors, rid)
        return TangoJSON(
            body, status_code=status, headers={"X-Request-Id": body["requestId"], **(headers or {})}
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return fail(request, exc.status, exc.message, exc.errors, exc.headers)

    @app.middleware("http")
    async def tango_gate(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = str(uuid.uuid4())
        if not request.url.path.startswith(PREFIX):
            return await call_next(request)
        engine.requests_seen += 1
        engine.request_times.append(time.monotonic())
        if not authorised(engine, request.headers.get("authorization", "")):
            return fail(request, 401, "Full authentication is required to access this resource")
        if bucket and (wait := bucket.take()) is not None:
            engine.rate_limited += 1
            headers = {"Retry-After": f"{wait:.3f}"} if config.send_retry_after else {}
            return fail(request, 429, "Exceeded the allowable TPS rate limit", headers=headers)
        faults = engine.config.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if engine.chance(faults.rate_limit_burst_rate):
            return fail(request, 429, "Exceeded the allowable TPS rate limit")
        if (
            request.method == "POST"
            and request.url.path == PREFIX + "/asyncOrders"
            and engine.outage()
        ):
            return fail(request, 503, "Service Unavailable (sandbox outage after N orders)")
        if engine.chance(faults.server_error_rate):
            return fail(request, 503, "Service Unavailable (sandbox fault injection)")
        response = await call_next(request)
        response.headers["X-Request-Id"] = request.state.request_id
        if (
            request.method in ("POST", "PATCH", "DELETE")
            and response.status_code < 300
            and engine.drop_answer()
        ):
            # the work is committed; the caller never learns it
            if faults.commit_then_drop_mode == "delay":
                await asyncio.sleep(faults.drop_delay_s)
                return response
            return fail(
                request, 504, "Gateway Timeout (sandbox fault injection: committed, answer dropped)"
            )
        return response

    async def body_of(request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return None
        try:
            return json.loads(raw, parse_float=Decimal)
        except ValueError as exc:
            raise ApiError(400, "Malformed JSON request body") from exc

    def q(request: Request) -> dict[str, Any]:
        return dict(request.query_params)

    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        return await run_in_threadpool(fn, *args)

    # --- OAuth --------------------------------------------------------------------------

    @app.post("/oauth/token")
    async def oauth_token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return TangoJSON({"error": "unsupported_grant_type"}, status_code=400)
        try:
            token = await call(
                engine.issue_token, form.get("client_id", ""), form.get("client_secret", "")
            )
        except ApiError:
            return TangoJSON(
                {"error": "access_denied", "error_description": "Unauthorized"}, status_code=401
            )
        return TangoJSON(token)

    # --- catalog, customers, accounts ------------------------------------------------------

    @app.get(PREFIX + "/catalogs")
    async def catalogs(request: Request) -> Response:
        return TangoJSON(engine.catalog.model_dump(mode="json", exclude_none=True))

    @app.get(PREFIX + "/customers")
    async def customers(request: Request) -> Response:
        return TangoJSON(await call(engine.list_customers))

    @app.post(PREFIX + "/customers")
    async def create_customer(request: Request) -> Response:
        return TangoJSON(
            await call(engine.create_customer, await body_of(request)), status_code=201
        )

    @app.get(PREFIX + "/customers/{customer}")
    async def customer(customer: str) -> Response:
        return TangoJSON(await call(engine.get_customer, customer))

    @app.get(PREFIX + "/customers/{customer}/accounts")
    async def customer_accounts(customer: str) -> Response:
        return TangoJSON(await call(engine.list_accounts, customer))

    @app.post(PREFIX + "/customers/{customer}/accounts")
    async def create_account(customer: str, request: Request) -> Response:
        return TangoJSON(
            await call(engine.create_account, customer, await body_of(request)), status_code=201
        )

    @app.get(PREFIX + "/accounts")
    async def accounts() -> Response:
        return TangoJSON(await call(engine.list_accounts))

    @app.get(PREFIX + "/accounts/{account}")
    async def account(account: str) -> Response:
        return TangoJSON(await call(engine.get_account, account))

    # --- async orders ----------------------------------------------------------------------

    @app.post(PREFIX + "/asyncOrders")
    async def create_order(request: Request) -> Response:
        status, body = await call(engine.create_order, await body_of(request))
        return TangoJSON(body, status_code=status)

    @app.get(PREFIX + "/asyncOrders")
    async def list_orders(request: Request) -> Response:
        return TangoJSON(await call(engine.list_orders, q(request)))

    @app.get(PREFIX + "/asyncOrders/customers/{customer}/accounts/{account}/{ref}")
    async def order_summary(customer: str, account: str, ref: str, request: Request) -> Response:
        return TangoJSON(await call(engine.order_summary, customer, account, ref, q(request)))

    @app.get(PREFIX + "/asyncOrders/customers/{customer}/accounts/{account}/{ref}/lineItems")
    async def order_line_items(customer: str, account: str, ref: str, request: Request) -> Response:
        return TangoJSON(await call(engine.order_line_items, customer, account, ref, q(request)))

    @app.post(PREFIX + "/lineItems/{ref_li}/cancel")
    async def cancel_line_item(ref_li: str, request: Request) -> Response:
        return TangoJSON(
            await call(engine.cancel_line_item, ref_li, await body_of(request)), status_code=202
        )

    # --- webhooks --------------------------------------------------------------------------

    @app.get(PREFIX + "/webhooks/eventtypes")
    async def event_types() -> Response:
        from .engine import EVENT_CATEGORIES

        items = [{"category": c, "eventTypes": t} for c, t in EVENT_CATEGORIES.items()]
        return TangoJSON(
            {
                "numberOfElements": len(items),
                "maxResults": 200,
                "items": items,
                "prevPageAvailable": False,
                "nextPageAvailable": False,
            }
        )

    @app.post(PREFIX + "/webhooks")
    async def create_webhook(request: Request) -> Response:
        body = await body_of(request)
        key_pem = None
        if isinstance(body, dict) and body.get("payloadVerificationMethod") == "X509":
            key_pem = app.state.x509_keys.get(body.get("signingCertificate"))
        return TangoJSON(await call(engine.create_webhook, body, key_pem), status_code=201)

    @app.get(PREFIX + "/webhooks")
    async def list_webhooks() -> Response:
        return TangoJSON(await call(engine.list_webhooks))

    @app.get(PREFIX + "/webhooks/{webhook_id}")
    async def get_webhook(webhook_id: str) -> Response:
        return TangoJSON(await call(engine.get_webhook, webhook_id))

    @app.delete(PREFIX + "/webhooks/{webhook_id}")
    async def delete_webhook(webhook_id: str) -> Response:
        await call(engine.delete_webhook, webhook_id)
        return Response(status_code=200)

    @app.post(PREFIX + "/webhooks/{webhook_id}/renew")
    async def renew_webhook(webhook_id: str) -> Response:
        return TangoJSON(await call(engine.renew_webhook, webhook_id))

    @app.get(PREFIX + "/webhooks/{webhook_id}/events")
    async def webhook_events(webhook_id: str, request: Request) -> Response:
        return TangoJSON(await call(engine.list_events, webhook_id, q(request)))

    @app.post(PREFIX + "/webhooks/{webhook_id}/replay")
    async def replay(webhook_id: str, request: Request) -> Response:
        params = q(request)
        if not params.get("fromRevision"):
            raise ApiError(
                400, "fromRevision is required", [{"path": "fromRevision", "message": "required"}]
            )
        to = params.get("toRevision")
        await call(
            engine.replay_events, webhook_id, int(params["fromRevision"]), int(to) if to else None
        )
        return Response(status_code=200)

    @app.post(PREFIX + "/webhooks/{webhook_id}/tests")
    async def test_all(webhook_id: str) -> Response:
        await call(engine.test_webhook, webhook_id, None)
        return Response(status_code=200)

    @app.post(PREFIX + "/webhooks/{webhook_id}/tests/{test_name}")
    async def test_one(webhook_id: str, test_name: str) -> Response:
        await call(engine.test_webhook, webhook_id, test_name)
        return Response(status_code=200)

    # --- sandbox administration (not part of Tango) ----------------------------------------

    async def platform_only(request: Request) -> None:
        """Anyone who could reach the admin API could fund accounts: ask for what Tango's
        paths ask for."""
        if not authorised(engine, request.headers.get("authorization", "")):
            raise ApiError(401, "Full authentication is required to access this resource")

    admin = APIRouter(prefix="/sandbox", dependencies=[Depends(platform_only)])
    app.state.x509_keys = {}

    @admin.post("/x509")
    async def x509_pair() -> Response:
        """A certificate to register with ``payloadVerificationMethod=X509``; the sandbox keeps
        its private key and signs deliveries with it, as Tango does with its own."""
        key_pem, cert_pem = await run_in_threadpool(new_x509_pair)
        app.state.x509_keys[cert_pem] = key_pem.decode()
        return TangoJSON({"signingCertificate": cert_pem})

    @admin.get("/faults")
    async def get_faults() -> Response:
        return TangoJSON(engine.config.faults.model_dump())

    @admin.post("/faults")
    async def set_faults(request: Request) -> Response:
        engine.set_faults(Faults.model_validate(await body_of(request) or {}))
        return TangoJSON(engine.config.faults.model_dump())

    @admin.post("/accounts/{account}/fund")
    async def fund(account: str, request: Request) -> Response:
        body = await body_of(request) or {}
        return TangoJSON(
            await call(engine.fund_account, account, Decimal(str(body.get("amount", 0))))
        )

    @admin.post("/tokens/revoke")
    async def revoke() -> Response:
        await call(engine.revoke_tokens)
        return Response(status_code=204)

    @admin.get("/stats")
    async def stats(request: Request) -> Response:
        out = await call(engine.stats)
        window = float(request.query_params.get("window", 1.0))
        out["busiest_window"] = {"seconds": window, "requests": engine.busiest_window(window)}
        out["requests"] = {"received": engine.requests_seen, "rateLimited": engine.rate_limited}
        return TangoJSON(out)

    app.include_router(admin)

    @app.get("/sandbox/health")
    async def health() -> Response:
        return TangoJSON({"status": "ok"})

    return app


def authorised(engine: Engine, header: str) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            name, _, key = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return engine.check_basic(name, key)
    if scheme.lower() == "bearer" and value:
        return engine.check_token(value)
    return False
