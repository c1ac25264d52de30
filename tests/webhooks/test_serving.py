"""``python -m webhooks`` as it is served, over real sockets: idle and slow connections are
closed on a deadline and capped per client, so they cannot starve Tango's deliveries."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from proof.webhook_abuse import KEY, body, closing_times, open_idle, slow_body, slow_loris
from raas.webhooks import SIGNATURE_HEADER, sign_hmac
from sandbox.server import free_port
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
Serve = Callable[..., str]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start ``python -m webhooks`` with ``WEBHOOKS_*`` settings; return its base URL."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(**settings: object) -> str:
        port = free_port()
        env = {
            **os.environ,
            "WEBHOOKS_PORT": str(port),
            "WEBHOOKS_DB_PATH": str(tmp_path / f"events-{port}.db"),
            "WEBHOOKS_HMAC_KEY": KEY,
            "WEBHOOKS_PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",
            **{f"WEBHOOKS_{k.upper()}": str(v) for k, v in settings.items()},
        }
        log = (tmp_path / f"receiver-{port}.log").open("wb")
        cmd = [sys.executable, "-m", "webhooks"]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log))
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url), timeout=30)
        return url

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/health").status_code == 200
    except httpx.TransportError:
        return False


def deliver(url: str, ref: str) -> int:
    data = body(ref)
    headers = {SIGNATURE_HEADER: sign_hmac(data, KEY)}
    return httpx.post(url + "/tango/webhooks", content=data, headers=headers).status_code


def host_port(url: str) -> tuple[str, int]:
    u = httpx.URL(url)
    return u.host, u.port or 80


def test_idle_half_open_connections_do_not_starve_deliveries(serve: Serve) -> None:
    url = serve(header_timeout_s=1)
    held = open_idle(*host_port(url), n=250, per_client=20)  # 13 clients, each within the cap
    assert [deliver(url, f"during-idle-{i}") for i in range(5)] == [200] * 5
    assert None not in closing_times(held, within_s=30)  # the receiver closed every one


def test_a_client_past_its_cap_is_closed_at_once(serve: Serve) -> None:
    url = serve(header_timeout_s=60, max_connections_per_client=20)
    held = open_idle(*host_port(url), n=30, per_client=30)  # all from one client
    closed = [t for t in closing_times(held, within_s=5) if t is not None]
    assert len(closed) == 10  # the 20 within the cap wait for their head deadline
    assert deliver(url, "beside-a-greedy-client") == 200


def test_a_head_sent_slowly_is_cut_off_at_its_deadline(serve: Serve) -> None:
    url = serve(header_timeout_s=1)
    assert slow_loris(*host_port(url), give_up_s=20).startswith("closed by the receiver")


def test_a_body_sent_slowly_is_answered_408(serve: Serve) -> None:
    url = serve(body_timeout_s=1)
    assert slow_body(*host_port(url), give_up_s=20).startswith("HTTP/1.1 408")


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"hmac_key": "not base64!"}, "WEBHOOKS_HMAC_KEY"),
        ({"hmac_key": ""}, "WEBHOOKS_HMAC_KEY"),
        ({"verification": "HMAC"}, "WEBHOOKS_HMAC_KEY"),
        ({"verification": "X509"}, "WEBHOOKS_CERTIFICATE_PEM"),
        ({"verification": "X509", "certificate_pem": "not a PEM"}, "WEBHOOKS_CERTIFICATE_PEM"),
    ],
    ids=["key-not-base64", "key-empty", "hmac-without-key", "x509-without-cert", "cert-not-pem"],
)
def test_bad_settings_stop_the_start_with_one_line(
    tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOKS_")}
    env |= {"WEBHOOKS_PORT": str(free_port()), "WEBHOOKS_DB_PATH": str(tmp_path / "e.db")}
    env |= {f"WEBHOOKS_{k.upper()}": v for k, v in settings.items()}
    done = subprocess.run(
        [sys.executable, "-m", "webhooks"], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    lines = done.stderr.decode().splitlines()
    assert done.returncode != 0 and len(lines) == 1 and named in lines[0], lines
