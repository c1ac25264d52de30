"""How the receiver is served: uvicorn, with limits that keep idle and slow clients from
starving Tango's deliveries.

uvicorn closes idle keep-alive connections, but it has no deadline for a request's head and
no per-client cap, and its ``limit_concurrency`` counts every open connection: 250 idle
connections made every delivery a 503. :func:`guarded_h11` adds the deadline and the cap to
uvicorn's own h11 protocol, through uvicorn's ``http=`` setting (a protocol class); the body
deadline is the app's (:func:`webhooks.app.read_body`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from .config import ReceiverSettings

log = logging.getLogger("webhooks")


def serve_options(settings: ReceiverSettings) -> dict[str, Any]:
    """The ``uvicorn.Config`` arguments the receiver is served with (``python -m webhooks``,
    the tests and the abuse campaign alike)."""
    return {
        "http": guarded_h11(settings.header_timeout_s, settings.max_connections_per_client),
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": 5,
    }


def guarded_h11(header_timeout_s: float, per_client: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol that closes a connection whose request line and headers are not
    all in ``header_timeout_s`` after it opened (or after its previous answer), and closes a
    client's connections beyond ``per_client`` as soon as they open."""
    open_per_client: Counter[str] = Counter()  # touched only on the event loop

    class GuardedH11Protocol(H11Protocol):
        head_deadline: asyncio.TimerHandle | None = None
        answered = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.peer = self.client[0] if self.client else "unknown"
            open_per_client[self.peer] += 1
            if open_per_client[self.peer] > per_client:
                log.warning("closed a connection from %s: %d already open", self.peer, per_client)
                transport.close()
            else:
                self.arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            open_per_client[self.peer] -= 1
            if not open_per_client[self.peer]:
                del open_per_client[self.peer]
            if self.head_deadline:
                self.head_deadline.cancel()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self.answered = True
            self.arm_head_deadline()  # the next request on this connection gets as long

        def arm_head_deadline(self) -> None:
            if self.head_deadline:
                self.head_deadline.cancel()
            self.head_deadline = self.loop.call_later(header_timeout_s, self.head_overdue)

        def head_overdue(self) -> None:
            waiting_for_head = self.cycle is None or self.cycle.response_complete
            if not waiting_for_head or self.transport.is_closing():
                return
            # a kept-alive connection that sent nothing more is no abuse: close it quietly
            if not self.answered or self.conn.trailing_data[0]:
                log.warning(
                    "closed a connection from %s: no complete request head in %g s",
                    self.peer,
                    header_timeout_s,
                )
            self.transport.close()

    return GuardedH11Protocol
