"""The receiver: ``POST`` Tango webhooks, ``GET /health`` (its counts only with the bearer
token ``health_token``; ``/docs`` and the schema only with ``docs``).

Order of work for each request: size limit (413) and body deadline (408), signature (401),
JSON (400), event shape (400), persist (append-only, deduplicated by ``eventId``), answer 200.
Each refusal is a 4xx and one log line that says why (:class:`RejectError`), never a 500 or a
traceback; every 401 answer is the same, so a caller learns nothing of how the receiver is
configured. The deadline for a request's head and the per-client connection cap are in how it
is served (``serving.py``). Emission to Prefect happens afterwards, from the store, so a slow
or absent Prefect never delays Tango's answer and never loses an event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pydantic_core
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr, ValidationError
from starlette.concurrency import run_in_threadpool

from raas import parse_async_order_event
from raas.webhooks import SIGNATURE_HEADER, SignatureError, verify_hmac, verify_x509

from .config import ReceiverSettings
from .emitter import Emitter
from .store import EventStore

log = logging.getLogger("webhooks")
BEARER = HTTPBearer(auto_error=False)  # module-level: FastAPI resolves the annotation here


def _answer(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"status": status, "message": message, **extra}, status_code=status)


class RejectError(Exception):
    """A refused request: ``status`` and ``message`` go to the caller, ``detail`` to the log."""

    def __init__(self, status: int, message: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.message, self.detail = status, message, detail


def one_line(exc: Exception) -> str:
    """An error as one short log line (pydantic's are several, and may quote the input)."""
    if isinstance(exc, ValidationError):
        text = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    else:
        text = str(exc)
    return " ".join(text.split())[:300]


async def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RejectError(413, f"body over {limit} bytes", f"declared {declared} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise RejectError(413, f"body over {limit} bytes", f"over {limit} bytes sent")
    except TimeoutError:
        raise RejectError(
            408, f"body not received in {timeout_s:g} s", f"{len(body)} bytes in {timeout_s:g} s"
        ) from None
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """The body as JSON we can keep and emit again: pydantic-core refuses nesting deeper than
    200 levels and NaN; ``allow_nan=False`` refuses numbers beyond a float (1e400 reads as
    inf), which Prefect would refuse when the event is emitted."""
    try:
        data = pydantic_core.from_json(body, allow_inf_nan=False)
        json.dumps(data, allow_nan=False)
    except ValueError as exc:
        raise RejectError(400, "body is not JSON", one_line(exc)) from None
    return data


def _event_type(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    kind = data.get("eventType")
    if kind is None and isinstance(data.get("eventTypes"), list) and data["eventTypes"]:
        kind = data["eventTypes"][0]
    return kind if isinstance(kind, str) else None


def check_signature(settings: ReceiverSettings, body: bytes, signature: str | None) -> None:
    """Raise :class:`SignatureError` unless the request is signed as configured (or unsigned
    delivery was explicitly allowed: ``allow_unsigned`` or verification ``NONE``). The key or
    certificate the verification needs was checked with the settings."""
    if not signature and (settings.allow_unsigned or settings.verification == "NONE"):
        return
    if settings.verification == "HMAC" and settings.hmac_key:
        verify_hmac(body, signature, settings.hmac_key.get_secret_value())
    elif settings.verification == "X509" and settings.certificate_pem:
        verify_x509(body, signature, settings.certificate_pem)


def shows_counts(token: SecretStr | None, credentials: HTTPAuthorizationCredentials | None) -> bool:
    return bool(
        token
        and credentials
        and secrets.compare_digest(
            credentials.credentials.encode(), token.get_secret_value().encode()
        )
    )


def create_app(settings: ReceiverSettings, *, emit: bool = True) -> FastAPI:
    store = EventStore(settings.db_path)
    emitter = Emitter(store, settings.prefect_api_url, settings.emit_interval_s)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if emit:
            emitter.start()
        if settings.register_url:
            from .registration import keep_registered

            def registered(webhook_id: str) -> None:
                app.state.webhook_id = webhook_id

            threading.Thread(
                target=keep_registered,
                args=(settings, stop, registered),
                daemon=True,
                name="webhooks-registration",
            ).start()
        yield
        stop.set()
        if emit:
            emitter.stop()
        store.close()

    docs = settings.docs  # off by default: the schema tells a stranger what to send
    app = FastAPI(
        title="Tango webhook receiver",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.store = store
    app.state.emitter = emitter
    app.state.webhook_id = None  # the Tango subscription, once registered (register_url)

    @app.exception_handler(RejectError)
    async def rejected(request: Request, exc: RejectError) -> JSONResponse:
        client = request.client.host if request.client else "?"
        log.warning("refused %s from %s: %s %s", request.url.path, client, exc.status, exc.detail)
        # a body left unread would be read as the next request: close the connection
        return JSONResponse(
            {"status": exc.status, "message": exc.message},
            status_code=exc.status,
            headers={"Connection": "close"} if exc.status in (408, 413) else None,
        )

    @app.post(settings.path)
    async def receive(request: Request) -> JSONResponse:
        body = await read_body(request, settings.max_body_bytes, settings.body_timeout_s)
        try:
            check_signature(settings, body, request.headers.get(SIGNATURE_HEADER))
        except SignatureError as exc:
            raise RejectError(401, "unauthorized", str(exc)) from None
        data = parse_json(body)
        kind = _event_type(data)
        if kind not in (None, "AsyncOrderStatus"):
            return _answer(200, f"ignored {kind} event")
        try:
            event = parse_async_order_event(data)
        except (ValueError, TypeError) as exc:
            detail = one_line(exc)
            raise RejectError(400, f"not an AsyncOrderStatus event: {detail}", detail) from None
        accepted = await run_in_threadpool(store.accept, event, data)
        if accepted.advanced:
            emitter.wake.set()
        outcome = (
            "duplicate"
            if accepted.duplicate
            else "accepted"
            if accepted.advanced
            else "stale (older revision)"
        )
        return _answer(200, outcome, eventId=event.eventId)

    @app.get("/health")
    async def health(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> JSONResponse:
        if not shows_counts(settings.health_token, credentials):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "ok", **(await run_in_threadpool(store.counts))})

    return app
