from __future__ import annotations

import os
import tempfile

# Prefect reads these at import: keep its home (results, caches) and telemetry out of the way.
_PREFECT_HOME = tempfile.mkdtemp(prefix="prefect-tests-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# the flow reads spreadsheets only under these (rewards.sources); tests write theirs in temp
os.environ.setdefault("REWARDS_SOURCE_ROOTS", os.pathsep.join([tempfile.gettempdir(), "data"]))
# ruff: noqa: E402  (the imports below must see those variables)

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from proof.postgres import fresh_database
from raas import RaasClient, RetryPolicy, TangoSettings
from sandbox import SandboxConfig, SandboxServer
from sandbox.config import DEFAULT_PLATFORM_KEY, DEFAULT_PLATFORM_NAME
from tests.helpers import ACCOUNT, CUSTOMER


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """One real sandbox over HTTP for the whole session (fast fulfilment)."""
    db = tmp_path_factory.mktemp("sandbox") / "sandbox.db"
    with SandboxServer(SandboxConfig(db_path=db, fulfil_latency_s=0.01)) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        server: SandboxServer = request.getfixturevalue("sandbox")
        server.admin.post("/faults", json={})


def make_settings(server: SandboxServer, **kw: object) -> TangoSettings:
    values: dict[str, object] = {
        "base_url": server.base_url,
        "platform_name": DEFAULT_PLATFORM_NAME,
        "platform_key": DEFAULT_PLATFORM_KEY,
        "customer_identifier": CUSTOMER,
        "account_identifier": ACCOUNT,
        "timeout_seconds": 5.0,
    }
    values.update(kw)
    return TangoSettings(**values)  # type: ignore[arg-type]


def fast_retry(attempts: int = 5) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.5)


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[RaasClient]:
    with RaasClient(make_settings(sandbox), retry=fast_retry()) as c:
        yield c


@pytest.fixture
def fresh_sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    """A sandbox of a test's own, for settings that would disturb the shared one."""
    with SandboxServer(SandboxConfig(db_path=tmp_path / "own.db", fulfil_latency_s=0.01)) as s:
        yield s


def free_port_url() -> str:
    """A URL on which nothing listens."""
    from sandbox.server import free_port

    return f"http://127.0.0.1:{free_port()}/raas/v2"


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """One temporary Prefect server for the whole session; yields its API URL."""
    from prefect.settings import get_current_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield str(get_current_settings().api.url)


def point_tango_at(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TANGO_* settings a deployment would have, aimed at the sandbox's USD account."""
    monkeypatch.setenv("TANGO_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("TANGO_PLATFORM_NAME", DEFAULT_PLATFORM_NAME)
    monkeypatch.setenv("TANGO_PLATFORM_KEY", DEFAULT_PLATFORM_KEY)
    monkeypatch.setenv("TANGO_CUSTOMER_IDENTIFIER", "sandbox-customer")
    monkeypatch.setenv("TANGO_ACCOUNT_IDENTIFIER", "sandbox-usd")
    monkeypatch.setenv("TANGO_MAX_ATTEMPTS", "2")


@pytest.fixture
def env(
    prefect_server: None, sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    from tasks.tango import forget

    point_tango_at(sandbox, monkeypatch)
    monkeypatch.setenv("REWARDS_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.setenv("REWARDS_REPORTS_DIR", str(tmp_path / "reports"))
    forget()
    yield tmp_path
    forget()


@pytest.fixture
def campaign() -> str:
    """A campaign of the test's own, so its rewards are new to the shared sandbox."""
    return f"t-{uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_database() as url:  # PostgreSQL down: the error says where it was looked for
        yield url
