"""Run the sandbox in a background thread (tests, the demo) or in the foreground (CLI)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from .app import create_app
from .config import SandboxConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SandboxServer:
    """``with SandboxServer(config) as sb: sb.base_url`` — a real HTTP server on a free port."""

    def __init__(self, config: SandboxConfig, host: str = "127.0.0.1", port: int | None = None):
        self.config = config
        self.host = host
        self.port = port or free_port()
        self.app = create_app(config)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app, host=host, port=self.port, log_level="warning", access_log=False
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="sandbox-http", daemon=True)

    @property
    def engine(self):
        return self.app.state.engine

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/raas/v2"

    @property
    def token_url(self) -> str:
        return self.url + "/oauth/token"

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox failed to start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
