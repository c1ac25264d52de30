"""Retries, rate limits, dropped answers and OAuth, through real HTTP against the sandbox."""

from uuid import uuid4

import pytest

from raas import (
    APITimeoutError,
    AuthenticationError,
    RaasClient,
    RateLimitError,
    ServerError,
)
from sandbox import SandboxConfig, SandboxServer
from sandbox.config import DEFAULT_PLATFORM_KEY, DEFAULT_PLATFORM_NAME
from tests.conftest import fast_retry, make_settings
from tests.helpers import ACCOUNT, line, order, wait_final


def faults(server: SandboxServer, **values: object) -> None:
    server.admin.post("/faults", json=values).raise_for_status()


def orders_with_ref(server: SandboxServer, ref: str) -> int:
    with server.engine.store.tx() as c:
        return c.execute("SELECT COUNT(*) FROM orders WHERE external_ref_id=?", (ref,)).fetchone()[
            0
        ]


def test_5xx_is_retried_for_reads(sandbox: SandboxServer, client: RaasClient) -> None:
    faults(sandbox, seed=7, server_error_rate=0.3)
    before = client.requests_sent
    for _ in range(10):
        assert client.get_account().currencyCode == "USD"
    assert client.requests_sent - before > 10  # some attempts were answered 503 and retried


def test_5xx_gives_up_after_five_attempts_with_a_clear_error(sandbox, client) -> None:
    faults(sandbox, server_error_rate=1.0)
    before = client.requests_sent
    with pytest.raises(ServerError, match="HTTP 503") as info:
        client.get_account()
    assert client.requests_sent - before == 5
    assert info.value.request_id


def test_commit_then_drop_then_retry_makes_exactly_one_order(sandbox, client) -> None:
    ref = f"drop-{uuid4().hex[:8]}"
    faults(sandbox, drop_next=1)  # the order is committed, the answer becomes a 504
    result = client.create_async_order(order(ref, [line("a"), line("b")]))
    assert result.http_code == 200 and not result.created  # the retry found the original
    assert orders_with_ref(sandbox, ref) == 1
    assert wait_final(client, ref).orderStatus == "COMPLETE"


def test_answer_after_the_timeout_then_retry_makes_exactly_one_order(sandbox) -> None:
    ref = f"late-{uuid4().hex[:8]}"
    faults(sandbox, drop_next=1, commit_then_drop_mode="delay", drop_delay_s=1.5)
    with RaasClient(make_settings(sandbox, timeout_seconds=0.5), retry=fast_retry()) as c:
        result = c.create_async_order(order(ref, [line("a")]))
        assert result.http_code == 200
    assert orders_with_ref(sandbox, ref) == 1


def test_non_idempotent_post_is_not_retried_after_a_timeout(sandbox) -> None:
    cust = f"t{uuid4().hex[:8]}"
    faults(sandbox, drop_next=1, commit_then_drop_mode="delay", drop_delay_s=1.5)
    with RaasClient(make_settings(sandbox, timeout_seconds=0.5), retry=fast_retry()) as c:
        with pytest.raises(APITimeoutError, match="may have been processed"):
            c.create_customer(cust, "Timeout Test Co")
        assert c.get_customer(cust).customerIdentifier == cust  # it was created once


def test_rate_limit_429_is_retried_until_it_passes(tmp_path) -> None:
    config = SandboxConfig(db_path=tmp_path / "rl.db", requests_per_second=5)
    with (
        SandboxServer(config) as server,
        RaasClient(make_settings(server), retry=fast_retry(attempts=5)) as c,
    ):
        for _ in range(15):
            c.get_account()
        assert c.requests_sent > 15  # 429s happened and were retried with Retry-After


def test_rate_limit_error_carries_retry_after(tmp_path) -> None:
    config = SandboxConfig(db_path=tmp_path / "rl.db", requests_per_second=1)
    with (
        SandboxServer(config) as server,
        RaasClient(make_settings(server), retry=fast_retry(attempts=1)) as c,
    ):
        c.get_account()
        with pytest.raises(RateLimitError, match="HTTP 429") as info:
            c.get_account()
        assert info.value.retry_after is not None and info.value.retry_after > 0


def test_client_side_pacing_keeps_under_the_sandbox_limit(tmp_path) -> None:
    config = SandboxConfig(db_path=tmp_path / "rl.db", requests_per_second=10)
    with (
        SandboxServer(config) as server,
        RaasClient(make_settings(server, requests_per_second=8), retry=fast_retry(1)) as c,
    ):
        for _ in range(20):
            c.get_account()  # would raise RateLimitError (one attempt) if pacing failed
        assert c.requests_sent == 20


def test_oauth_token_is_cached_and_refreshed_once_on_401(sandbox: SandboxServer) -> None:
    settings = make_settings(
        sandbox,
        platform_name=None,
        platform_key=None,
        client_id=DEFAULT_PLATFORM_NAME,
        client_secret=DEFAULT_PLATFORM_KEY,
        token_url=sandbox.token_url,
    )
    with RaasClient(settings, retry=fast_retry()) as c:
        c.get_account()
        c.get_catalog()
        assert c.auth.tokens_fetched == 1
        sandbox.admin.post("/tokens/revoke").raise_for_status()
        assert c.get_account().accountIdentifier == ACCOUNT
        assert c.auth.tokens_fetched == 2


def test_oauth_with_a_wrong_secret_is_an_authentication_error(sandbox: SandboxServer) -> None:
    settings = make_settings(
        sandbox,
        platform_name=None,
        platform_key=None,
        client_id=DEFAULT_PLATFORM_NAME,
        client_secret="nope",
        token_url=sandbox.token_url,
    )
    with (
        RaasClient(settings, retry=fast_retry()) as c,
        pytest.raises(AuthenticationError, match="HTTP 401"),
    ):
        c.get_account()


def test_connection_refused_is_a_connection_error() -> None:
    from raas import APIConnectionError
    from tests.conftest import free_port_url

    settings = make_settings_for(free_port_url())
    with (
        RaasClient(settings, retry=fast_retry(attempts=2)) as c,
        pytest.raises(APIConnectionError, match="no HTTP response"),
    ):
        c.get_account()


def make_settings_for(base_url: str):
    from raas import TangoSettings

    return TangoSettings(
        base_url=base_url, platform_name="x", platform_key="y", account_identifier=ACCOUNT
    )
