"""What every request to Tango's paths passes first: a request id, the traffic count, the
credentials (401) and the configured rate limit (429 with ``Retry-After``); then the injected
faults (``faults.py``)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response

from .auth import Auth
from .config import SandboxConfig
from .errors import error_info
from .faults import FaultInjector, inject
from .wire import TangoJSON

PREFIX = "/raas/v2"


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


class Traffic:
    """Requests received and answered 429 by the rate limit (benchmarks, rate-limit checks)."""

    def __init__(self) -> None:
        self.received = 0
        self.rate_limited = 0
        self.times: deque[float] = deque(maxlen=100_000)

    def busiest_window(self, seconds: float) -> int:
        """The most API requests received within any ``seconds``-long window."""
        times, best, lo = list(self.times), 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] > seconds:
                lo += 1
            best = max(best, hi - lo + 1)
        return best


def fail(
    request: Request,
    status: int,
    message: str,
    errors: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Tango's ``ErrorInfo`` answer, carrying this request's id."""
    rid = request.state.request_id if hasattr(request.state, "request_id") else None
    body = error_info(status, message, request.url.path, errors, rid)
    return TangoJSON(
        body, status_code=status, headers={"X-Request-Id": body["requestId"], **(headers or {})}
    )


def install(
    app: FastAPI, config: SandboxConfig, auth: Auth, dice: FaultInjector, traffic: Traffic
) -> None:
    """Add the gate (outermost) and the fault injection (inside it) to ``app``."""
    bucket = TokenBucket(config.requests_per_second) if config.requests_per_second else None

    @app.middleware("http")
    async def faults(request: Request, call_next: Callable[[Request], Awaitable[Response]]):
        if not request.url.path.startswith(PREFIX):
            return await call_next(request)
        return await inject(dice, request, call_next, fail, PREFIX + "/asyncOrders")

    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]):
        request.state.request_id = str(uuid.uuid4())
        if not request.url.path.startswith(PREFIX):
            return await call_next(request)
        traffic.received += 1
        traffic.times.append(time.monotonic())
        if not auth.authorised(request.headers.get("authorization", "")):
            return fail(request, 401, "Full authentication is required to access this resource")
        if bucket and (wait := bucket.take()) is not None:
            traffic.rate_limited += 1
            headers = {"Retry-After": f"{wait:.3f}"} if config.send_retry_after else {}
            return fail(request, 429, "Exceeded the allowable TPS rate limit", headers=headers)
        response = await call_next(request)
        response.headers["X-Request-Id"] = request.state.request_id
        return response
