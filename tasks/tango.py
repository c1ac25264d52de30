"""One Tango client per (customer, account) and one ledger per process, built from settings
(never from flow parameters, so no secret ever reaches the Prefect database)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from pydantic import ValidationError

from raas import RaasClient, TangoSettings
from rewards.errors import RewardsError
from rewards.ledger import Ledger, OrderRow
from rewards.params import RewardsSettings


@lru_cache(maxsize=4)
def tango_client(customer: str | None = None, account: str | None = None) -> RaasClient:
    try:
        settings = TangoSettings()
    except ValidationError as exc:
        raise RewardsError(
            "Tango is not configured: set TANGO_BASE_URL and TANGO_PLATFORM_NAME / "
            "TANGO_PLATFORM_KEY (or TANGO_CLIENT_ID / TANGO_CLIENT_SECRET); see the README"
        ) from exc
    updates = {
        k: v for k, v in (("customer_identifier", customer), ("account_identifier", account)) if v
    }
    return RaasClient(settings.model_copy(update=updates), pace=_shared_pace())


def client_for(order: OrderRow) -> RaasClient:
    return tango_client(order.customer_identifier, order.account_identifier)


def _shared_pace() -> Callable[[], None] | None:
    """With REWARDS_GLOBAL_RATE_LIMIT set, every Tango request first takes a slot of that Prefect
    global concurrency limit (slot decay makes it a rate limit shared by all workers)."""
    name = RewardsSettings().global_rate_limit
    if not name:
        return None
    from prefect.concurrency.sync import rate_limit

    return lambda: rate_limit(name, occupy=1, strict=True)


def ledger() -> Ledger:
    return _ledger(RewardsSettings().ledger_url)


@lru_cache(maxsize=4)
def _ledger(url: str) -> Ledger:
    return Ledger(url)


def forget() -> None:
    """Drop the cached client and ledger (settings changed: tests, a new environment)."""
    tango_client.cache_clear()
    _ledger.cache_clear()


def identifiers(customer: str, account: str) -> tuple[str, str]:
    """The Tango customer and account a run works in: its parameters, else the settings."""
    settings = tango_client(customer or None, account or None).settings
    if not settings.customer_identifier or not settings.account_identifier:
        raise RewardsError(
            "no Tango customer/account: pass customer_identifier and "
            "account_identifier or set TANGO_CUSTOMER_IDENTIFIER and "
            "TANGO_ACCOUNT_IDENTIFIER"
        )
    return settings.customer_identifier, settings.account_identifier
