"""The receiver: ``POST`` Tango webhooks, ``GET /health``.

Order of work for each request: size limit (413), signature (401), JSON (400), event shape
(400), persist (append-only, deduplicated by ``eventId``), answer 200. Emission to Prefect
happens afterwards, from the store, so a slow or absent Prefect never delays Tango's answer
and never loses an event.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from raas import parse_async_order_event
from raas.webhooks import SIGNATURE_HEADER, SignatureError, verify_hmac, verify_x509

from .config import ReceiverSettings
from .emitter import Emitter
from .store import EventStore

log = logging.getLogger("webhooks")


def _answer(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"status": status, "message": message, **extra}, status_code=status)


def _event_type(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    kind = data.get("eventType")
    if kind is None and isinstance(data.get("eventTypes"), list) and data["eventTypes"]:
        kind = data["eventTypes"][0]
    return kind if isinstance(kind, str) else None


def check_signature(settings: ReceiverSettings, body: bytes, signature: str | None) -> None:
    """Raise :class:`SignatureError` unless the request is signed as configured (or unsigned
    delivery was explicitly allowed: ``allow_unsigned`` or verification ``NONE``)."""
    if not signature and (settings.allow_unsigned or settings.verification == "NONE"):
        return
    if settings.verification == "HMAC":
        if settings.hmac_key is None:
            raise SignatureError("receiver has no HMAC key configured")
        verify_hmac(body, signature, settings.hmac_key.get_secret_value())
    elif settings.verification == "X509":
        if not settings.certificate_pem:
            raise SignatureError("receiver has no signing certificate configured")
        verify_x509(body, signature, settings.certificate_pem)
    elif signature is None:
        raise SignatureError("unsigned request")


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

            threading.Thread(
                target=keep_registered,
                args=(settings, stop),
                daemon=True,
                name="webhooks-registration",
            ).start()
        yield
        stop.set()
        if emit:
            emitter.stop()
        store.close()

    app = FastAPI(title="Tango webhook receiver", lifespan=lifespan)
    app.state.store = store
    app.state.emitter = emitter

    @app.post(settings.path)
    async def receive(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
            return _answer(413, f"body over {settings.max_body_bytes} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_body_bytes:
                return _answer(413, f"body over {settings.max_body_bytes} bytes")
        try:
            check_signature(settings, body, request.headers.get(SIGNATURE_HEADER))
        except SignatureError as exc:
            log.warning("rejected webhook: %s", exc)
            return _answer(401, str(exc))
        try:
            data = json.loads(body)
        except ValueError:
            return _answer(400, "body is not JSON")
        kind = _event_type(data)
        if kind not in (None, "AsyncOrderStatus"):
            return _answer(200, f"ignored {kind} event")
        try:
            event = parse_async_order_event(data)
        except (ValueError, TypeError) as exc:
            return _answer(400, f"not an AsyncOrderStatus event: {exc}")
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
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", **(await run_in_threadpool(store.counts))})

    return app
