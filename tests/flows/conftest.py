"""Flow tests: one Prefect test harness for the session, the session's sandbox over HTTP,
and a fresh ledger and report folder per test."""

from __future__ import annotations

import csv
from pathlib import Path
from uuid import uuid4

import pytest

from sandbox import SandboxServer
from sandbox.config import DEFAULT_PLATFORM_KEY, DEFAULT_PLATFORM_NAME

HEADER = [
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "UTID",
    "Amount",
    "Delivery Method",
    "Campaign",
    "Team",
]


@pytest.fixture
def env(
    prefect_server: None, sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    from tasks.tango import ledger, tango_client

    monkeypatch.setenv("TANGO_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("TANGO_PLATFORM_NAME", DEFAULT_PLATFORM_NAME)
    monkeypatch.setenv("TANGO_PLATFORM_KEY", DEFAULT_PLATFORM_KEY)
    monkeypatch.setenv("TANGO_CUSTOMER_IDENTIFIER", "sandbox-customer")
    monkeypatch.setenv("TANGO_ACCOUNT_IDENTIFIER", "sandbox-usd")
    monkeypatch.setenv("TANGO_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("REWARDS_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.setenv("REWARDS_REPORTS_DIR", str(tmp_path / "reports"))
    tango_client.cache_clear()
    ledger.cache_clear()
    yield tmp_path
    tango_client.cache_clear()
    ledger.cache_clear()


@pytest.fixture
def campaign() -> str:
    """A campaign of the test's own, so its rewards are new to the shared sandbox."""
    return f"t-{uuid4().hex[:10]}"


def recipients(campaign: str, n: int, *, start: int = 0, **over: str) -> list[dict[str, str]]:
    rows = []
    for i in range(start, start + n):
        row = {
            "First Name": f"Person{i}",
            "Last Name": "Test",
            "Email": f"p{i}@example.com",
            "Phone": "",
            "UTID": "U100001",
            "Amount": "5.00",
            "Delivery Method": "email",
            "Campaign": campaign,
            "Team": f"team-{i % 3}",
        }
        row.update(over)
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header or HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path
