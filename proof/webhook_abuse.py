"""Webhook abuse: forged, tampered, replayed, oversized, slow and malformed requests against
the receiver, then a burst of valid events; rejected ones must emit nothing, valid ones must be
persisted and emitted exactly once.

    .venv/bin/python -m proof.webhook_abuse [--burst 10000]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import socket
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
from webhooks.config import EVENT_NAME, RESOURCE_PREFIX

KEY = new_hmac_key()


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


def send(http: httpx.Client, url: str, data: bytes, signature: str | bytes | None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature:
        headers[SIGNATURE_HEADER] = signature
    return http.post(url, content=data, headers=headers).status_code


def slow_loris(host: str, port: int, seconds: float = 8.0) -> str:
    """Open a connection and dribble a header; the receiver must drop it, not wait forever."""
    with socket.create_connection((host, port), timeout=seconds + 5) as s:
        s.sendall(b"POST /tango/webhooks HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        try:
            while time.monotonic() - start < seconds:
                s.sendall(b"X-a: b\r\n")
                time.sleep(1)
            return "held open"
        except OSError:
            return f"closed by the receiver after {time.monotonic() - start:.1f}s"


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
    log_lines: int

    @property
    def as_expected(self) -> bool:
        return self.status == self.case.expected and self.log_lines == 1


def answer(http: httpx.Client, url: str, case: Case, logs: LogLines) -> Answer:
    before = len(logs.records)
    status = send(http, url, case.body, case.signature)
    return Answer(case, status, len(logs.records) - before)


def abuse(url: str, burst: int, prefix: str, max_body_bytes: int) -> dict[str, Any]:
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
        results["tracebacks"] = logs.tracebacks
    return results


def print_hostile(answers: list[Answer]) -> None:
    for a in answers:
        mark = "" if a.as_expected else "   <-- NOT AS EXPECTED"
        print(
            f"  {a.case.name:34} {a.status} (must be {a.case.expected}), {a.log_lines} log line{mark}"
        )
    wrong = sum(not a.as_expected for a in answers)
    print(f"{'hostile requests':28} {len(answers)}, {wrong} not as expected")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=10_000)
    args = parser.parse_args()
    from proof.prefect_server import events_total, prefect_server
    from sandbox.server import ThreadedServer
    from webhooks import ReceiverSettings
    from webhooks.app import create_app

    work = Path(tempfile.mkdtemp(prefix="abuse-"))
    with prefect_server(work / "prefect") as api:
        settings = ReceiverSettings(
            db_path=work / "events.db", hmac_key=KEY, prefect_api_url=api, emit_interval_s=0.2
        )
        prefix = f"abuse-{uuid.uuid4().hex[:6]}"
        with ThreadedServer(create_app(settings)) as rx:
            results = abuse(rx.url + settings.path, args.burst, prefix, settings.max_body_bytes)
            # a slow client holds one connection; everyone else must still be answered
            with ThreadPoolExecutor(1) as pool:
                held = pool.submit(slow_loris, rx.host, rx.port)
                time.sleep(1)
                data = body(f"{prefix}-during-slow-client")
                with httpx.Client(timeout=10) as http:
                    during = send(http, rx.url + settings.path, data, sign_hmac(data, KEY))
                results["slow-loris"] = f"{held.result()}; a valid request meanwhile: {during}"
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                health = httpx.get(rx.url + "/health").json()
                if health["emitted"] >= health["to_emit"]:
                    break
                time.sleep(1)
        total = events_total(api, EVENT_NAME, f"{RESOURCE_PREFIX}{prefix}")
    print_hostile(results.pop("hostile"))
    for key, value in results.items():
        print(f"{key:28} {value}")
    print(
        f"{'stored / to emit / emitted':28} {health['stored']} / {health['to_emit']} / "
        f"{health['emitted']}"
    )
    print(
        f"{'Prefect events received':28} {total} (expected {args.burst + 2}: the burst, the "
        "replayed event once, and the one sent beside the slow client)"
    )


if __name__ == "__main__":
    main()
