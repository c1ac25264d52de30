"""From the store to Prefect: POST pending events to the server's ``/events`` endpoint and
mark them emitted only when Prefect answered 2xx. The Prefect event id is derived from
Tango's ``eventId``, so emitting twice after a crash is harmless."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from raas import parse_async_order_event

from .config import EVENT_NAME, RESOURCE_PREFIX
from .store import EventStore

log = logging.getLogger("webhooks")
NAMESPACE = uuid.UUID("5b0f3a57-7c3e-4a2e-9a49-6f1f2b7d2c10")


def prefect_event(body: dict[str, Any]) -> dict[str, Any]:
    event = parse_async_order_event(body)
    occurred = event.eventOccurredAt or datetime.now(UTC)
    resource = {
        "prefect.resource.id": RESOURCE_PREFIX + event.externalRefID,
        "prefect.resource.name": event.externalRefID,
        "tango.status": event.status,
    }
    if event.accountIdentifier:
        resource["tango.account"] = event.accountIdentifier
    if event.customerIdentifier:
        resource["tango.customer"] = event.customerIdentifier
    return {
        "id": str(uuid.uuid5(NAMESPACE, event.eventId)),
        "occurred": occurred.isoformat(),
        "event": EVENT_NAME,
        "resource": resource,
        "related": [],
        "payload": body,
    }


def _passing(status: int) -> bool:
    """A refusal that may pass: try the same events again later."""
    return status in (408, 429) or status >= 500


def api_url(explicit: str | None) -> str | None:

    if explicit:
        return explicit.rstrip("/")
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return url.rstrip("/") if url else None


class Emitter:
    def __init__(self, store: EventStore, prefect_api_url: str | None, interval_s: float) -> None:
        self.store = store
        self.explicit_url = prefect_api_url
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks-emitter", daemon=True)
        self.wake = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(timeout=10)

    def emit_pending(self, http: httpx.Client) -> int:
        """Emit a batch of pending events. One event that can never be emitted (a body an
        older version stored, or one Prefect refuses) is dropped with a log line instead of
        holding back every event behind it; the flow's fallback poll covers its order."""
        url = api_url(self.explicit_url)
        pending = self.store.pending()
        if not pending or not url:
            return 0
        events: dict[str, dict[str, Any]] = {}
        for p in pending:
            try:
                events[p["event_id"]] = prefect_event(p["body"])
            except (ValueError, TypeError, KeyError) as exc:  # pydantic's errors are ValueErrors
                log.warning("event %s cannot be emitted (%s): dropped", p["event_id"], exc)
                self.store.mark_emitted([p["event_id"]])
        status = self._post(http, url, list(events.values()))
        if status is None:
            return 0
        if status < 300:
            self.store.mark_emitted(list(events))
            return len(events)
        if _passing(status):  # Prefect is busy or failing: everything is kept for later
            return 0
        emitted = 0  # refused: emit one at a time and drop the ones Prefect refuses alone
        for event_id, event in events.items():
            one = self._post(http, url, [event]) if len(events) > 1 else status
            if one is None or _passing(one):
                continue
            if one < 300:
                emitted += 1
            else:
                log.warning("Prefect refused event %s (%s): dropped", event_id, one)
            self.store.mark_emitted([event_id])
        return emitted

    def _post(self, http: httpx.Client, url: str, events: list[dict[str, Any]]) -> int | None:
        """Prefect's status for the events (None: unreachable); a failure is logged."""
        if not events:
            return 200
        try:
            response = http.post(url + "/events", json=events)
        except httpx.HTTPError as exc:
            log.warning("Prefect unreachable (%s); %d events kept for later", exc, len(events))
            return None
        if response.status_code >= 300:
            log.warning("Prefect answered %s to %d events", response.status_code, len(events))
        return response.status_code

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                try:
                    sent = self.emit_pending(http)
                except Exception:  # keep emitting; the error is in the log
                    log.exception("emitting events failed")
                    sent = 0
                if not sent:
                    self.wake.wait(self.interval_s)
                    self.wake.clear()
