"""Webhook abuse: forged, tampered, replayed, oversized, slow and malformed requests against
the receiver, then a burst of valid events; rejected ones must emit nothing, valid ones must be
persisted and emitted exactly once.

    .venv/bin/python -m proof.webhook_abuse [--burst 10000]
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
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


def send(http: httpx.Client, url: str, data: bytes, signature: str | None) -> int:
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


def abuse(url: str, burst: int, prefix: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with httpx.Client(timeout=30) as http:
        valid = body(f"{prefix}-replayed")
        cases = {
            "forged signature": (body(f"{prefix}-x"), sign_hmac(b"other", KEY)),
            "tampered body": (valid.replace(b"SUCCESSFUL", b"FAILED"), sign_hmac(valid, KEY)),
            "wrong key": (body(f"{prefix}-x"), sign_hmac(body(f"{prefix}-x"), new_hmac_key())),
            "unsigned": (body(f"{prefix}-x"), None),
            "oversized": (body(f"{prefix}-x") + b" " * 300_000, None),
            "malformed JSON": (b"{nope", sign_hmac(b"{nope", KEY)),
        }
        for name, (data, sig) in cases.items():
            if name == "oversized":
                sig = sign_hmac(data, KEY)
            results[name] = send(http, url, data, sig)
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
            results = abuse(rx.url + settings.path, args.burst, prefix)
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
