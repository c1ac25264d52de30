"""Waiting until a batch's orders are final: by polling Tango's summary endpoint with backoff,
or on the webhook receiver's Prefect events (each a hint to read that order's summary) with a
fallback poll. Tango failing for a while (connections, 5xx, 429) costs time, not the run:
reads are retried until the run's own deadline."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from raas import RetryPolicy
from rewards import progress, sending
from rewards.ledger import OrderState
from rewards.params import CompletionMode

from .fulfil import step
from .tango import client_for, ledger


class Waiter:
    """The batch's orders still to finish, refreshed from Tango's summary endpoint, with the
    progress artifact kept up to date."""

    def __init__(self, refs: list[str], concurrency: int, retry: RetryPolicy) -> None:
        self.book = ledger()
        self.concurrency = concurrency
        self.retry = retry
        states = {r: self.book.order(r) for r in refs}
        self.waiting = {r for r, o in states.items() if o and o.state is OrderState.ACCEPTED}
        self.total = len(refs)
        self._last_logged = -1
        self.progress = create_progress_artifact(
            self._percent(), description=f"Orders finished out of {self.total}"
        )

    def _percent(self) -> float:
        return 100.0 * (self.total - len(self.waiting)) / self.total if self.total else 100.0

    def _refresh_one(self, ref: str) -> bool:
        order = self.book.order(ref)
        assert order is not None
        return sending.refresh(client_for(order), self.book, ref, self.retry)

    def refresh(self, refs: set[str] | list[str]) -> None:
        todo = sorted(r for r in refs if r in self.waiting)
        # Tango's latency, not our work, is the cost of a poll: ask about several orders at once
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for ref, final in zip(todo, pool.map(self._refresh_one, todo), strict=True):
                if final:
                    self.waiting.discard(ref)
        progress.report("orders finished", self.total - len(self.waiting), self.total)
        done = f"{self.total - len(self.waiting)} of {self.total} orders finished"
        update_progress_artifact(self.progress, self._percent(), description=done)
        if len(self.waiting) != self._last_logged:  # a progress line in the CLI and the UI log
            self._last_logged = len(self.waiting)
            get_run_logger().info("%s (%.0f%%)", done, self._percent())


def _poll(waiter: Waiter, deadline: float, pause: float) -> None:
    while waiter.waiting:
        waiter.refresh(set(waiter.waiting))
        if not waiter.waiting or time.monotonic() + pause > deadline:
            return
        time.sleep(pause)
        pause = min(pause * 1.5, 30.0)


async def _listen(waiter: Waiter, batch: str, deadline: float, fallback_s: float) -> None:
    """Each ``tango.async-order.status`` event for the batch is a hint: GET that order's
    summary (the authority). A fallback poll runs all the while, so a lost webhook only
    delays completion."""
    from prefect.events.clients import get_events_subscriber
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    from webhooks.config import EVENT_NAME, RESOURCE_PREFIX

    hints: asyncio.Queue[str] = asyncio.Queue()
    wanted = EventFilter(
        event=EventNameFilter(name=[EVENT_NAME]),
        resource=EventResourceFilter(id_prefix=[f"{RESOURCE_PREFIX}rw-{batch}-"]),
    )

    async def read(subscriber: object) -> None:
        async for event in subscriber:  # type: ignore[attr-defined]
            await hints.put(event.resource.id.removeprefix(RESOURCE_PREFIX))

    async with get_events_subscriber(filter=wanted) as subscriber:
        reader = asyncio.create_task(read(subscriber))
        try:
            await asyncio.to_thread(waiter.refresh, set(waiter.waiting))  # before we listened
            next_poll = time.monotonic() + fallback_s
            while waiter.waiting and time.monotonic() < deadline:
                wait = max(0.0, min(next_poll, deadline) - time.monotonic())
                try:
                    refs = {await asyncio.wait_for(hints.get(), wait)}
                    while not hints.empty():
                        refs.add(hints.get_nowait())
                except TimeoutError:
                    refs = set(waiter.waiting)
                    next_poll = time.monotonic() + fallback_s
                await asyncio.to_thread(waiter.refresh, refs)
        finally:
            reader.cancel()


@step("await-completion")
def await_completion(
    refs: list[str],
    *,
    batch: str,
    mode: CompletionMode,
    deadline: float,
    poll_interval_seconds: float,
    concurrency: int = 4,
) -> dict[str, int]:
    """Wait until every order of ``refs`` is final or ``deadline`` (monotonic) passes."""
    logger = get_run_logger()
    waiter = Waiter(refs, concurrency, sending.patient(deadline, logger.warning))
    if mode is CompletionMode.WEBHOOK:
        asyncio.run(_listen(waiter, batch, deadline, poll_interval_seconds))
    else:
        _poll(waiter, deadline, poll_interval_seconds)
    if waiter.waiting:
        logger.warning(
            "%d orders still pending at the timeout; run the same file again to refresh the report",
            len(waiter.waiting),
        )
    return {"orders": waiter.total, "pending": len(waiter.waiting)}
