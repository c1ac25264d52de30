"""Registration with Tango (against the sandbox): one subscription per receiver URL, however
many receivers start at once, renewed before it expires."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from proof.webhook_abuse import KEY
from raas import RaasClient
from sandbox import SandboxServer
from sandbox.server import ThreadedServer
from tests.conftest import fast_retry, make_settings, point_tango_at
from tests.helpers import wait_for
from webhooks import ReceiverSettings
from webhooks.app import create_app
from webhooks.registration import ensure_subscription, renew_if_due


def hook_url() -> str:
    return f"http://127.0.0.1:9/hook-{uuid.uuid4().hex[:6]}"


def subscribed(client: RaasClient, url: str) -> list[str]:
    return [w.webhookId for w in client.list_webhooks() if w.url == url]


def slow_tango(sandbox: SandboxServer) -> None:
    """Every answer 300 ms late: two receivers both list before either has created."""
    sandbox.admin.post("/faults", json={"latency_ms": 300}).raise_for_status()


def test_registration_creates_once_and_renews_before_expiry(client, sandbox) -> None:
    url = hook_url()
    settings = ReceiverSettings(register_url=url, hmac_key=KEY)
    first = ensure_subscription(client, settings)
    assert ensure_subscription(client, settings) == first  # found, not duplicated
    assert subscribed(client, url) == [first]
    before = client.get_webhook(first).expiresAt
    assert not renew_if_due(client, first, timedelta(days=1))  # 30 days left: nothing to do
    time.sleep(0.01)
    assert renew_if_due(client, first, timedelta(days=365))
    assert client.get_webhook(first).expiresAt > before
    client.delete_webhook(first)


def test_two_registrations_at_once_agree_on_one_subscription(client, sandbox) -> None:
    url = hook_url()
    settings = ReceiverSettings(register_url=url, hmac_key=KEY)
    slow_tango(sandbox)

    def register(_: int) -> str:
        with RaasClient(make_settings(sandbox), retry=fast_retry()) as own:
            return ensure_subscription(own, settings)

    with ThreadPoolExecutor(2) as pool:
        ids = set(pool.map(register, range(2)))
    assert len(ids) == 1 and subscribed(client, url) == list(ids)
    client.delete_webhook(ids.pop())


def test_two_receivers_starting_together_register_once(
    client, sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_tango_at(sandbox, monkeypatch)  # registration reads TANGO_* like a deployment
    url = hook_url()
    apps = [
        create_app(
            ReceiverSettings(db_path=tmp_path / f"{n}.db", hmac_key=KEY, register_url=url),
            emit=False,
        )
        for n in range(2)
    ]
    servers = [ThreadedServer(app) for app in apps]
    slow_tango(sandbox)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(ThreadedServer.start, servers))
    try:
        wait_for(lambda: all(a.state.webhook_id for a in apps), timeout=30)
        ids = {a.state.webhook_id for a in apps}
        assert len(ids) == 1 and subscribed(client, url) == list(ids)
    finally:
        for server in servers:
            server.stop()
    client.delete_webhook(ids.pop())
