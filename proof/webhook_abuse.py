"""Webhook abuse: generated hostile requests (forged, tampered, oversized, malformed, numbers
out of range, ...) each with the answer it must get, a replayed event, a burst of valid events,
then idle half-open connections, a greedy client, and a head and a body sent slowly, against
the receiver served as ``python -m webhooks`` serves it. Rejected requests must emit nothing
and log one line; valid ones must be answered 200 throughout, persisted and emitted once.

    .venv/bin/python -m proof.webhook_abuse [--burst 10000] [--idle 250]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import secrets
import selectors
import socket
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from raas.webhooks import SIGNATURE_HEADER, new_hmac_key, sign_hmac
from webhooks.config import EVENT_NAME, RESOURCE_PREFIX, ReceiverSettings

KEY = new_hmac_key()
HEALTH_TOKEN = secrets.token_urlsafe()
UNAUTHORIZED = {"status": 401, "message": "unauthorized"}  # every 401 says this, and no more


def body(
    ref: str,
    revision: int = 1,
    event_id: str | None = None,
    status: str = "SUCCESSFUL",
    account: str = "acct",
    customer: str = "cust",
) -> bytes:
    """A signed-to-be ``AsyncOrderStatus`` event for order ``ref``."""
    return json.dumps(
        {
            "eventId": event_id or str(uuid.uuid4()),
            "revision": revision,
            "eventType": "AsyncOrderStatus",
            "categories": ["orders"],
            "eventOccurredAt": datetime.now(UTC).isoformat(),
            "eventData": {
                "externalRefID": ref,
                "status": status,
                "totalLineItems": 1,
                "failedLineItems": 0,
                "successfulLineItems": 1,
                "accountIdentifier": account,
                "customerIdentifier": customer,
            },
        }
    ).encode()


@dataclass(frozen=True)
class Case:
    """A hostile webhook request and the answer it must get (nothing stored, one log line)."""

    name: str
    body: bytes
    signature: str | bytes | None
    expected: int


def with_raw(data: bytes, field: str, raw: bytes) -> bytes:
    """``data`` with the value of ``field`` replaced by raw JSON text (numbers such as 1e400
    or NaN that ``json.dumps`` cannot write)."""
    pattern = rb'"%s": [^,}]+' % field.encode()
    return re.sub(pattern, b'"%s": %s' % (field.encode(), raw), data, count=1)


def hostile_webhooks(prefix: str, max_body_bytes: int) -> list[Case]:
    """Every hostile request the campaign sends, generated: bad signatures (401), too big
    (413), and signed bodies that are not JSON or not an event we can keep (400)."""
    x = body(f"{prefix}-x")
    nested = b'{"eventId": "deep", "revision": 1, "eventData": %s}' % (b"[" * 5000 + b"]" * 5000)

    def signed(name: str, data: bytes, expected: int = 400) -> Case:
        return Case(name, data, sign_hmac(data, KEY), expected)

    return [
        Case("forged signature", x, sign_hmac(b"other", KEY), 401),
        Case("tampered body", x.replace(b"SUCCESSFUL", b"FAILED"), sign_hmac(x, KEY), 401),
        Case("wrong key", x, sign_hmac(x, new_hmac_key()), 401),
        Case("unsigned", x, None, 401),
        Case("signature not base64", x, "%%not-base64%%", 401),
        Case("non-ASCII byte in the signature", x, b"\xe9" + sign_hmac(x, KEY).encode(), 401),
        signed("oversized", x + b" " * max_body_bytes, 413),
        signed("malformed JSON", b"{nope"),
        signed("not UTF-8", b"\xff\xfe" + x),
        signed("not an event", b"[]"),
        signed("JSON nested 5,000 deep", nested),
        signed("NaN in the body", x.replace(b'"categories"', b'"note": NaN, "categories"')),
        signed("1e400 in the body", x.replace(b'"categories"', b'"note": 1e400, "categories"')),
        signed("revision 1e400", with_raw(x, "revision", b"1e400")),
        signed("revision 10^20", with_raw(x, "revision", b"100000000000000000000")),
        signed("revision -1", with_raw(x, "revision", b"-1")),
        signed("revision a string", with_raw(x, "revision", b'"7"')),
        signed("line count 1e400", with_raw(x, "totalLineItems", b"1e400")),
    ]


def post(
    http: httpx.Client, url: str, data: bytes, signature: str | bytes | None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature:
        headers[SIGNATURE_HEADER] = signature
    return http.post(url, content=data, headers=headers)


def send(http: httpx.Client, url: str, data: bytes, signature: str | bytes | None) -> int:
    return post(http, url, data, signature).status_code


DOCS = ("/docs", "/redoc", "/openapi.json")
HALF_OPEN = b"POST /tango/webhooks HTTP/1.1\r\nHost: receiver\r\n"  # a head never finished


def open_idle(host: str, port: int, n: int, per_client: int) -> list[socket.socket]:
    """``n`` half-open requests (connected, part of a head sent, then silence), ``per_client``
    from each loopback address from 127.0.0.2 on: each address is another client, and
    Tango's deliveries (from 127.0.0.1) are someone else."""
    held = []
    for i in range(n):
        source = (f"127.0.0.{2 + i // per_client}", 0)
        s = socket.create_connection((host, port), timeout=5, source_address=source)
        with contextlib.suppress(OSError):  # the receiver may have closed it already
            s.sendall(HALF_OPEN)
        held.append(s)
    return held


def closing_times(held: list[socket.socket], within_s: float) -> list[float | None]:
    """Seconds until the receiver closed each connection (None: still open after
    ``within_s``); the connections are closed on return."""
    start = time.monotonic()
    closed: dict[int, float] = {}
    with selectors.DefaultSelector() as selector:
        for i, s in enumerate(held):
            selector.register(s, selectors.EVENT_READ, i)
        while len(closed) < len(held) and (left := start + within_s - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                with contextlib.suppress(OSError):
                    if key.fileobj.recv(4096):  # type: ignore[union-attr]
                        continue  # an answer before the close: wait for the close
                closed[key.data] = time.monotonic() - start
                selector.unregister(key.fileobj)
    for s in held:
        s.close()
    return [closed.get(i) for i in range(len(held))]


def slow_loris(host: str, port: int, give_up_s: float) -> str:
    """Dribble a head, one header line every 0.25 s: the receiver must close the connection
    on its deadline, not wait as long as the client cares to send."""
    with socket.create_connection((host, port), timeout=give_up_s + 5) as s:
        start = time.monotonic()
        try:
            s.sendall(HALF_OPEN)
            while time.monotonic() - start < give_up_s:
                s.sendall(b"X-a: b\r\n")
                time.sleep(0.25)
        except OSError:
            return f"closed by the receiver after {time.monotonic() - start:.1f} s"
        return f"held open for {give_up_s:g} s"


def slow_body(host: str, port: int, give_up_s: float) -> str:
    """A whole head announcing 1,000 bytes, then the body one byte every 0.25 s: the receiver
    must answer (408) on its deadline."""
    with socket.create_connection((host, port), timeout=0.25) as s:
        s.sendall(HALF_OPEN + b"Content-Length: 1000\r\n\r\n")
        start = time.monotonic()
        while time.monotonic() - start < give_up_s:
            try:
                s.sendall(b" ")
                answer = s.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                answer = b""
            status = answer.split(b"\r\n", 1)[0].decode() or "closed without an answer"
            return f"{status} after {time.monotonic() - start:.1f} s"
        return f"held open for {give_up_s:g} s"


class LogLines(logging.Handler):
    """Collects the receiver's log records, its own and uvicorn's, while it is in use."""

    LOGGERS = ("webhooks", "uvicorn")  # uvicorn's do not propagate to the root logger

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def tracebacks(self) -> int:
        return sum(r.exc_info is not None for r in self.records)

    def __enter__(self) -> LogLines:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


@dataclass(frozen=True)
class Answer:
    case: Case
    status: int
    body: Any
    log_lines: int

    @property
    def as_expected(self) -> bool:
        uniform = self.status != 401 or self.body == UNAUTHORIZED
        return self.status == self.case.expected and self.log_lines == 1 and uniform


def answer(http: httpx.Client, url: str, case: Case, logs: LogLines) -> Answer:
    before = len(logs.records)
    response = post(http, url, case.body, case.signature)
    return Answer(case, response.status_code, response.json(), len(logs.records) - before)


def abuse(url: str, burst: int, prefix: str, max_body_bytes: int) -> dict[str, Any]:
    """The hostile requests one by one, a valid event three times, then a burst of valid
    events from 16 concurrent senders."""
    results: dict[str, Any] = {}
    with httpx.Client(timeout=30) as http, LogLines() as logs:
        results["hostile"] = [
            answer(http, url, case, logs) for case in hostile_webhooks(prefix, max_body_bytes)
        ]
        valid = body(f"{prefix}-replayed")
        results["valid then replayed"] = [
            send(http, url, valid, sign_hmac(valid, KEY)) for _ in range(3)
        ]

        def one(i: int) -> int:
            data = body(f"{prefix}-burst-{i}")
            return send(http, url, data, sign_hmac(data, KEY))

        start = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(one, range(burst)))
        results["burst seconds"] = round(time.perf_counter() - start, 1)
        results["burst 200s"] = statuses.count(200)
    return results


@dataclass(frozen=True)
class Starved:
    """Valid deliveries beside ``held`` idle half-open connections, and when the receiver
    closed those."""

    held: int
    clients: int
    statuses: list[int]
    ms: list[float]
    closed_after: list[float | None]

    def __str__(self) -> str:
        closed = [t for t in self.closed_after if t is not None]
        at_once = [t for t in closed if t < 1]  # past the per-client cap
        later = [t for t in closed if t >= 1]  # at the head deadline
        text = (
            f"{self.held} from {self.clients} client(s): {self.statuses.count(200)} of "
            f"{len(self.statuses)} valid webhooks meanwhile answered 200 (median "
            f"{statistics.median(self.ms):.0f} ms, max {max(self.ms):.0f} ms); the receiver "
            f"closed {len(at_once)} at once"
        )
        if later:
            text += f", {len(later)} after {min(later):.1f}-{max(later):.1f} s"
        return text + f", {len(self.closed_after) - len(closed)} still open"


def starve(url: str, n: int, per_client: int, prefix: str, valid: int) -> Starved:
    """Hold ``n`` half-open connections, ``per_client`` from each client, and deliver
    ``valid`` events meanwhile (from another client)."""
    target = httpx.URL(url)
    held = open_idle(target.host, target.port or 80, n, per_client)
    statuses, ms = [], []
    with httpx.Client(timeout=30) as http:
        for i in range(valid):
            data = body(f"{prefix}-{i}")
            start = time.perf_counter()
            statuses.append(send(http, url, data, sign_hmac(data, KEY)))
            ms.append((time.perf_counter() - start) * 1000)
    clients = -(-n // per_client)
    return Starved(n, clients, statuses, ms, closing_times(held, within_s=120))


def campaign(
    url: str, settings: ReceiverSettings, burst: int, idle: int, prefix: str
) -> dict[str, Any]:
    """Everything the campaign sends at a receiver served with ``serve_options``."""
    cap = settings.max_connections_per_client
    give_up = settings.header_timeout_s + settings.body_timeout_s + 10
    target = httpx.URL(url)
    with LogLines() as logs:
        results = abuse(url, burst, prefix, settings.max_body_bytes)
        results["without credentials"] = exposure(url.removesuffix(settings.path))
        results["idle connections"] = starve(url, idle, cap, f"{prefix}-idle", valid=50)
        results["one greedy client"] = starve(url, cap + 30, cap + 30, f"{prefix}-greedy", 5)
        results["slow head"] = slow_loris(target.host, target.port or 80, give_up)
        results["slow body"] = slow_body(target.host, target.port or 80, give_up)
        results["tracebacks logged"] = logs.tracebacks
    return results


def valid_events(results: dict[str, Any]) -> int:
    """Distinct valid events the campaign delivered (each must be stored and emitted once)."""
    beside = results["idle connections"].statuses + results["one greedy client"].statuses
    return results["burst 200s"] + 1 + beside.count(200)


def print_hostile(answers: list[Answer]) -> None:
    for a in answers:
        mark = "" if a.as_expected else "   <-- NOT AS EXPECTED"
        print(
            f"  {a.case.name:34} {a.status} (must be {a.case.expected}), {a.log_lines} log line{mark}"
        )
    wrong = sum(not a.as_expected for a in answers)
    print(f"{'hostile requests':28} {len(answers)}, {wrong} not as expected")


def counts(url: str, token: str = HEALTH_TOKEN) -> dict[str, int]:
    """The receiver's counts (``/health`` shows them only with its bearer token)."""
    return httpx.get(url + "/health", headers={"Authorization": f"Bearer {token}"}).json()


def exposure(url: str) -> dict[str, Any]:
    """What a caller without credentials is told: docs and schema, and ``/health``."""
    answers = {path: httpx.get(url + path).status_code for path in DOCS}
    return {**answers, "/health": httpx.get(url + "/health").json()}


def wait_emitted(url: str, timeout_s: float = 300) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while (health := counts(url))["emitted"] < health["to_emit"] and time.monotonic() < deadline:
        time.sleep(1)
    return health


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--idle", type=int, default=250, help="idle half-open connections")
    args = parser.parse_args()
    from proof.prefect_server import events_total, prefect_server
    from sandbox.server import ThreadedServer
    from webhooks.app import create_app
    from webhooks.serving import serve_options

    work = Path(tempfile.mkdtemp(prefix="abuse-"))
    with prefect_server(work / "prefect") as api:
        settings = ReceiverSettings(
            db_path=work / "events.db",
            hmac_key=KEY,
            health_token=HEALTH_TOKEN,
            prefect_api_url=api,
            emit_interval_s=0.2,
        )
        prefix = f"abuse-{uuid.uuid4().hex[:6]}"
        with ThreadedServer(create_app(settings), **serve_options(settings)) as rx:
            results = campaign(rx.url + settings.path, settings, args.burst, args.idle, prefix)
            health = wait_emitted(rx.url)
        total = events_total(api, EVENT_NAME, f"{RESOURCE_PREFIX}{prefix}")
    print_hostile(results.pop("hostile"))
    for key, value in results.items():
        print(f"{key:28} {value}")
    print(
        f"{'stored / to emit / emitted':28} {health['stored']} / {health['to_emit']} / "
        f"{health['emitted']}"
    )
    print(
        f"{'Prefect events received':28} {total} (expected {valid_events(results)}: the burst, "
        "the replayed event once, those sent beside idle connections)"
    )


if __name__ == "__main__":
    main()
