"""Waiting until a batch's orders are final: by polling Tango's summary endpoint with backoff
(:class:`rewards.steps.Waiter`), or on the webhook receiver's Prefect events, each a hint to
read that order's summary, with a fallback poll. Tango failing for a while (connections, 5xx,
429) costs time, not the run: reads are retried until the run's own deadline."""

from __future__ import annotations

import asyncio
import time

from prefect import get_run_logger

from rewards import progress, sending, steps
from rewards.params import CompletionMode

from .fulfil import context, step
from .progress import ProgressCards


async def _listen(waiter: steps.Waiter, batch: str, deadline: float, fallback_s: float) -> None:
    """Each ``tango.async-order.status`` event for the batch is a hint: GET that order's
    summary (the authority). A fallback poll runs all the while, backing off as polling
    does (to 30 s: events do the work, so it need not ask about every order every few
    seconds), so a lost webhook only delays completion."""
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
                    fallback_s = min(fallback_s * 1.5, 30.0)
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
    cards: ProgressCards | None = None,
) -> dict[str, int]:
    """Wait until every order of ``refs`` is final or ``deadline`` (monotonic) passes."""
    logger = get_run_logger()
    retry = sending.patient(deadline, logger.warning)
    waiter = steps.Waiter(context(), refs, concurrency, retry)
    with progress.watching(cards or (lambda *_: None)):
        if mode is CompletionMode.WEBHOOK:
            asyncio.run(_listen(waiter, batch, deadline, poll_interval_seconds))
        else:
            waiter.poll(deadline, poll_interval_seconds)
    if waiter.waiting:
        logger.warning(
            "%d orders still pending at the timeout; run the same file again to refresh the report",
            len(waiter.waiting),
        )
    return {"orders": waiter.total, "pending": len(waiter.waiting)}
