"""The background threads: fulfilment of due lines and delivery of due webhook events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx

from .engine import Engine

log = logging.getLogger("sandbox")


class Workers:
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

    def _fulfil(self, http: httpx.Client) -> int:
        return self.engine.process_due()

    def _deliver(self, http: httpx.Client) -> int:
        return self.engine.deliver_due(http)

    def _loop(self, step: Callable[[httpx.Client], int]) -> None:
        with httpx.Client(timeout=5.0) as http:
            while not self._stop.is_set():
                try:
                    busy = step(http)
                except Exception:  # keep the worker alive; the error is in the log
                    log.exception("sandbox worker step failed")
                    busy = 0
                if not busy:
                    self._stop.wait(self.engine.config.tick_s)
