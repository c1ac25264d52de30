"""Run an ASGI app (the sandbox, the webhook receiver in tests) on a free port in a thread."""

from __future__ import annotations

import socket
import threading
import time
from functools import cached_property
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn

from .app import create_app
from .config import DEFAULT_PLATFORM_KEY, DEFAULT_PLATFORM_NAME, SandboxConfig
from .engine import Engine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin_client(
    url: str,
    platform_name: str = DEFAULT_PLATFORM_NAME,
    platform_key: str = DEFAULT_PLATFORM_KEY,
    **options: Any,
) -> httpx.Client:
    """An ``httpx.Client`` for the admin API of the sandbox at ``url`` (paths relative to
    ``/sandbox/``: ``admin.post("/faults", json={...})``), with the platform credentials it
    requires."""
    base = url.rstrip("/") + "/sandbox"
    return httpx.Client(base_url=base, auth=(platform_name, platform_key), **options)


class ThreadedServer:
    """``with ThreadedServer(app) as s: s.url`` — a real HTTP server on a free port
    (``options``: more ``uvicorn.Config`` arguments, e.g. ``webhooks.serving.serve_options``)."""

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int | None = None, **options: Any
    ) -> None:
        self.app = app
        self.host = host
        self.port = port or free_port()
        config = uvicorn.Config(
            app, host=host, port=self.port, log_level="warning", access_log=False, **options
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server failed to start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class SandboxServer(ThreadedServer):
    """``with SandboxServer(config) as sb: sb.base_url`` — the sandbox over real HTTP."""

    def __init__(self, config: SandboxConfig, host: str = "127.0.0.1", port: int | None = None):
        self.config = config
        super().__init__(create_app(config), host, port)

    @property
    def engine(self) -> Engine:
        return self.app.state.engine

    @cached_property
    def admin(self) -> httpx.Client:
        """The admin API with this sandbox's credentials: ``sb.admin.post("/faults", json={})``."""
        return admin_client(self.url, self.config.platform_name, self.config.platform_key)

    def stop(self) -> None:
        if "admin" in self.__dict__:
            self.admin.close()
        super().stop()

    @property
    def base_url(self) -> str:
        return self.url + "/raas/v2"

    @property
    def token_url(self) -> str:
        return self.url + "/oauth/token"

    def tango_env(
        self, customer: str = "sandbox-customer", account: str = "sandbox-usd"
    ) -> dict[str, str]:
        """The ``TANGO_*`` variables that point a client (or a flow process) at this sandbox."""
        return {
            "TANGO_BASE_URL": self.base_url,
            "TANGO_PLATFORM_NAME": self.config.platform_name,
            "TANGO_PLATFORM_KEY": self.config.platform_key,
            "TANGO_CUSTOMER_IDENTIFIER": customer,
            "TANGO_ACCOUNT_IDENTIFIER": account,
        }
