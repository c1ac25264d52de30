"""Browser tests: a real ``prefect server``, a real ``rewards serve``, the sandbox, and Debian's
chromium driven by Playwright (never a downloaded browser: ``apt-get install chromium``, which
``make test`` does when it is missing). Screenshots of every step are kept in
``test-output/ui/<test>/`` so a failure can be looked at."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from proof.postgres import fresh_database
from proof.prefect_server import prefect_server
from sandbox import SandboxServer
from sandbox.server import free_port
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
THRESHOLD = 100  # the team's approval threshold on `rewards serve`


@pytest.fixture(scope="module")
def ui(
    tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer
) -> Iterator[dict[str, Any]]:
    """A Prefect server with its UI, and `rewards serve` as a team runs it. The server keeps
    its state in PostgreSQL, as a team's does: on SQLite, busy with serve's writes, it failed
    the form's requests now and then (503, "Oops. Something went wrong.")."""
    work = tmp_path_factory.mktemp("ui")
    with (
        fresh_database("asyncpg") as prefect_db,
        prefect_server(
            work / "prefect", {"PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_db}
        ) as api,
    ):
        env = {
            **os.environ,
            **sandbox.tango_env(),
            "PREFECT_API_URL": api,
            "PREFECT_HOME": str(work / "prefect"),
            "REWARDS_LEDGER_URL": f"sqlite:///{work / 'ledger.db'}",
            "REWARDS_REPORTS_DIR": str(work / "reports"),
            "REWARDS_INBOX_DIR": str(work / "inbox"),
            "REWARDS_SOURCE_ROOTS": str(work),
            "REWARDS_REPORTS_PORT": str(free_port()),
        }
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deployments.cli",
                "serve",
                "--approval-threshold",
                str(THRESHOLD),
            ],
            cwd=ROOT,
            env=env,
            stdout=(work / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        global _SERVE_LOG
        _SERVE_LOG = work / "serve.log"
        try:
            wait_for(lambda: deployment_id(api, "fulfil-rewards/manual"), timeout=90)
            yield {"api": api, "url": api.removesuffix("/api"), "work": work}
        finally:
            serve.terminate()
            serve.wait(60)


def deployment_id(api: str, name: str) -> str | None:
    response = httpx.get(f"{api}/deployments/name/{name}")
    return response.json()["id"] if response.status_code == 200 else None


def run_state(api: str, run_id: str) -> dict[str, Any]:
    return httpx.get(f"{api}/flow_runs/{run_id}").json()["state"] or {}


def start_run(api: str, **parameters: Any) -> str:
    """A run of fulfil-rewards/manual, as the API (the form does the same)."""
    dep = deployment_id(api, "fulfil-rewards/manual")
    response = httpx.post(
        f"{api}/deployments/{dep}/create_flow_run", json={"parameters": parameters}
    )
    response.raise_for_status()
    return response.json()["id"]


def rows_file(folder: Path, count: int, amount: str = "5.00") -> Path:
    """A recipients file of ``count`` rows new to the sandbox."""
    tag = uuid.uuid4().hex[:8]
    path = folder / f"team-{tag}.csv"
    lines = [f"ui-{tag}-{i}@example.com,U100001,{amount},email" for i in range(count)]
    path.write_text("Email,UTID,Amount,Delivery Method\n" + "\n".join(lines) + "\n")
    return path


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: `apt-get install chromium` (make test does it as root)")
    shots = ROOT / "test-output" / "ui" / re.sub(r"\W+", "-", request.node.name)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        counter = iter(range(1, 100))
        page.snap = lambda label: page.screenshot(  # type: ignore[attr-defined]
            path=shots / f"{next(counter):02d}-{label}.png", full_page=True
        )
        try:
            yield page
        finally:
            page.snap("last")
            browser.close()


FINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
_SERVE_LOG: Path | None = None  # the module's `rewards serve` output, quoted when a wait fails


def wait_state(api: str, run_id: str, *types: str, timeout: float = 120) -> dict[str, Any]:
    """The run's state once it is one of ``types`` or final (the caller asserts which); a run
    that gets to neither fails with the states it went through and serve's last lines."""
    return wait_for(
        lambda: (s := run_state(api, run_id)).get("type") in {*types, *FINAL} and s,
        timeout=timeout,
        interval=0.5,
        explain=lambda: _story(api, run_id),
    )


def _story(api: str, run_id: str) -> str:
    states = httpx.get(f"{api}/flow_run_states/", params={"flow_run_id": run_id}).json()
    seen = " -> ".join(
        f"{s['timestamp'][11:19]} {s['name']} {s.get('message') or ''}" for s in states
    )
    log = _SERVE_LOG.read_text(errors="replace").splitlines()[-30:] if _SERVE_LOG else []
    return f"run {run_id}: {seen or 'no states'}\nserve.log (last lines):\n" + "\n".join(log)
