"""Fault injection, in one place: what can be injected (:class:`Faults`, set through
``POST /sandbox/faults``), the seeded dice that decide each time (:class:`FaultInjector`), and the
middleware that applies the request faults to Tango's paths. Webhook faults are applied where
deliveries are made (``deliveries.py``), with the same dice.

To add a fault: a field on :class:`Faults` and the lines that act on it in :func:`inject`.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable
from typing import Protocol

from fastapi import Request, Response
from pydantic import BaseModel, Field

Fail = Callable[..., Response]


class Faults(BaseModel):
    """Faults injected into ``/raas/v2`` requests and webhook deliveries, reproducible by seed."""

    seed: int = 0
    server_error_rate: float = Field(0.0, ge=0, le=1, description="5xx before processing")
    latency_ms: int = Field(0, ge=0, description="added to every API request")
    commit_then_drop_rate: float = Field(
        0.0, ge=0, le=1, description="mutating request processed, then its answer is lost"
    )
    commit_then_drop_mode: str = Field(
        "error",
        pattern="^(error|delay)$",
        description="'error': answer 504 after committing; 'delay': answer after drop_delay_s",
    )
    drop_delay_s: float = 2.0
    drop_next: int = Field(0, ge=0, description="drop the answers of the next N mutating requests")
    orders_before_outage: int | None = Field(
        None, ge=0, description="after N more orders are created, POST /asyncOrders answers 503"
    )
    rate_limit_burst_rate: float = Field(0.0, ge=0, le=1, description="spurious 429s")
    webhook_drop_rate: float = Field(0.0, ge=0, le=1)
    webhook_duplicate_rate: float = Field(0.0, ge=0, le=1)
    webhook_reorder_window_s: float = Field(0.0, ge=0, description="random delivery delay")


class Holder(Protocol):
    """Where the current :class:`Faults` live (``SandboxConfig`` is one)."""

    faults: Faults


class FaultInjector:
    """The seeded dice. ``holder.faults`` is the current setting; counters in it (``drop_next``,
    ``orders_before_outage``) count down as they fire."""

    def __init__(self, holder: Holder) -> None:
        self.holder = holder
        self._lock = threading.Lock()
        self._rng = random.Random(holder.faults.seed)

    @property
    def faults(self) -> Faults:
        return self.holder.faults

    def set(self, faults: Faults) -> None:
        with self._lock:
            self.holder.faults = faults
            self._rng = random.Random(faults.seed)

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def drop_answer(self) -> bool:
        """Should the answer of this (already committed) mutating request be lost?"""
        with self._lock:
            faults = self.faults
            if faults.drop_next > 0:
                faults.drop_next -= 1
                return True
        return self.chance(faults.commit_then_drop_rate)

    def outage(self) -> bool:
        """True once ``orders_before_outage`` orders have gone through since it was set."""
        with self._lock:
            faults = self.faults
            if faults.orders_before_outage is None:
                return False
            if faults.orders_before_outage == 0:
                return True
            faults.orders_before_outage -= 1
            return False

    def uniform(self, hi: float) -> float:
        with self._lock:
            return self._rng.uniform(0, hi)


async def inject(
    dice: FaultInjector,
    request: Request,
    call_next: Callable[[Request], Awaitable[Response]],
    fail: Fail,
    orders_path: str,
) -> Response:
    """Apply the request faults around one authorised request to Tango's paths."""
    faults = dice.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if dice.chance(faults.rate_limit_burst_rate):
        return fail(request, 429, "Exceeded the allowable TPS rate limit")
    if request.method == "POST" and request.url.path == orders_path and dice.outage():
        return fail(request, 503, "Service Unavailable (sandbox outage after N orders)")
    if dice.chance(faults.server_error_rate):
        return fail(request, 503, "Service Unavailable (sandbox fault injection)")
    response = await call_next(request)
    mutated = request.method in ("POST", "PATCH", "DELETE") and response.status_code < 300
    if mutated and dice.drop_answer():  # the work is committed; the caller never learns it
        if faults.commit_then_drop_mode == "delay":
            await asyncio.sleep(faults.drop_delay_s)
            return response
        return fail(
            request, 504, "Gateway Timeout (sandbox fault injection: committed, answer dropped)"
        )
    return response
