"""Retry and pacing rules, written once for every request the client sends."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter; at most ``max_attempts`` tries (Tango: 5), and
    none that would start after ``deadline`` (``time.monotonic()``), if one is set.
    ``notify`` hears one line per retry (e.g. a run's log)."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    deadline: float | None = None
    notify: Callable[[str], None] | None = field(default=None, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def gives_up(self, attempt: int, pause: float) -> bool:
        if attempt >= self.max_attempts:
            return True
        return self.deadline is not None and time.monotonic() + pause > self.deadline

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed ``attempt`` (1-based); ``Retry-After`` wins when given."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self.rng.uniform(ceiling / 2, ceiling)


class RateLimiter:
    """Client-side pacing: at most ``per_second`` requests per second, shared by all threads."""

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._interval = 1.0 / per_second
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self._interval
        wait = slot - now
        if wait > 0:
            time.sleep(wait)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: rare enough to fall back to our own backoff
