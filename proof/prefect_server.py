"""A real ``prefect server start`` of a campaign's (or a test's) own, on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from sandbox.server import free_port


@contextmanager
def prefect_server(
    home: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> Iterator[str]:
    """Start the server (its own ``PREFECT_HOME``; ``env`` e.g. a PostgreSQL database URL),
    wait until it is healthy, yield its API URL, stop it afterwards."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    full_env = {
        **os.environ,
        **(env or {}),
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": api,  # the UI it serves calls this server, not :4200
    }

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError("prefect server exited while starting")
            try:
                if httpx.get(api + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start within {timeout}s")
            time.sleep(0.5)
        yield api
    finally:
        proc.terminate()
        proc.wait(30)


def events_total(api: str, name: str, resource_prefix: str) -> int:
    """How many events named ``name`` on resources starting with ``resource_prefix``."""
    response = httpx.post(
        api.rstrip("/") + "/events/filter",
        json={
            "filter": {
                "event": {"name": [name]},
                "resource": {"id_prefix": [resource_prefix]},
                "occurred": {"since": "2000-01-01T00:00:00Z"},
            },
            "limit": 1,
        },
    )
    response.raise_for_status()
    return int(response.json()["total"])
