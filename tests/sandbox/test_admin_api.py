"""The sandbox's admin API (``/sandbox/...``, not Tango's) needs the platform credentials, as
Tango's paths do: nobody else funds accounts, injects faults or revokes tokens."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from sandbox import SandboxServer
from sandbox.config import DEFAULT_PLATFORM_KEY, DEFAULT_PLATFORM_NAME

ADMIN = [
    ("GET", "/sandbox/faults"),
    ("POST", "/sandbox/faults"),
    ("POST", "/sandbox/accounts/sandbox-usd/fund"),
    ("POST", "/sandbox/tokens/revoke"),
    ("GET", "/sandbox/stats"),
    ("POST", "/sandbox/x509"),
]
STRANGERS = {
    "no credentials": None,
    "wrong key": (DEFAULT_PLATFORM_NAME, "wrong"),
    "wrong name": ("someone", DEFAULT_PLATFORM_KEY),
}


@pytest.mark.parametrize(("method", "path"), ADMIN, ids=[f"{m} {p}" for m, p in ADMIN])
@pytest.mark.parametrize("auth", STRANGERS.values(), ids=STRANGERS.keys())
def test_admin_paths_refuse_strangers(sandbox: SandboxServer, method, path, auth) -> None:
    # amount 0: were the path open, the shared sandbox's balances would not move
    response = httpx.request(method, sandbox.url + path, json={"amount": "0"}, auth=auth)
    assert response.status_code == 401 and response.json()["requestId"]


def test_a_refused_funding_moves_no_money(fresh_sandbox: SandboxServer) -> None:
    before = fresh_sandbox.engine.get_account("sandbox-low")["currentBalance"]
    httpx.post(fresh_sandbox.url + "/sandbox/accounts/sandbox-low/fund", json={"amount": "1e6"})
    assert fresh_sandbox.engine.get_account("sandbox-low")["currentBalance"] == before


def test_the_admin_client_is_let_in(sandbox: SandboxServer) -> None:
    assert sandbox.admin.get("/faults").json()["server_error_rate"] == 0
    funded = sandbox.admin.post("/accounts/sandbox-gbp/fund", json={"amount": "0.01"})
    assert Decimal(str(funded.json()["currentBalance"])) > 0


def test_a_bearer_token_is_let_in_too(sandbox: SandboxServer) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_PLATFORM_NAME,
        "client_secret": DEFAULT_PLATFORM_KEY,
    }
    token = httpx.post(sandbox.token_url, data=form).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(sandbox.url + "/sandbox/stats", headers=headers).status_code == 200


def test_health_needs_no_credentials(sandbox: SandboxServer) -> None:
    assert httpx.get(sandbox.url + "/sandbox/health").json() == {"status": "ok"}
