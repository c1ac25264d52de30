"""The report file server: a batch's files, for whoever holds a link from the run's page
(signed, expiring: see :mod:`rewards.links`). Read-only; nothing else is served, no docs."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from rewards.errors import RewardsError
from rewards.links import KEY_FILE, LinkError, decode_key, installation_key, verify
from rewards.params import RewardsSettings


def create_app(folder: Path, key: bytes) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(StarletteHTTPException)
    def _plain(request: Request, exc: StarletteHTTPException) -> Response:
        """Any other address: a sentence, not the framework's JSON."""
        return PlainTextResponse("no such report file", status_code=exc.status_code)

    @app.get("/files/{batch}/{name}")
    def report_file(batch: str, name: str, expires: str = "", sig: str = "") -> Response:
        try:  # a link cut short or edited gets the same answer as a forged one
            if not expires.isdigit() or not sig:
                raise LinkError("this link is not valid")
            verify(key, batch, name, int(expires), sig)

        except LinkError as exc:
            return PlainTextResponse(str(exc), status_code=403)
        path = folder / batch / name
        if not path.is_file():
            return PlainTextResponse("no such report file", status_code=404)
        return FileResponse(
            path, filename=f"{batch}-{name}", headers={"Cache-Control": "private, no-store"}
        )

    return app


def start(settings: RewardsSettings) -> threading.Thread:
    """Serve the reports from this process (``rewards serve``); with no key or URL set, make
    them for this process and the runs it starts (links then last until it restarts, at most
    a day)."""
    key_given = settings.reports_key is not None
    if not key_given:
        os.environ["REWARDS_REPORTS_KEY"] = installation_key(settings.reports_dir)
    if settings.reports_url is None:
        os.environ["REWARDS_REPORTS_URL"] = f"http://127.0.0.1:{settings.reports_port}"
    settings = RewardsSettings()
    assert settings.reports_key is not None
    decode_key(settings.reports_key.get_secret_value())  # a clear error before serving
    config = uvicorn.Config(
        create_app(
            settings.reports_dir.resolve(), decode_key(settings.reports_key.get_secret_value())
        ),
        host="127.0.0.1",
        port=settings.reports_port,
        log_level="warning",
        access_log=False,
    )
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:  # here, not in the server's thread: a port in use stops serve with one line
        listening.bind(("127.0.0.1", settings.reports_port))
    except OSError as exc:
        listening.close()
        raise RewardsError(
            f"the report file server cannot listen on 127.0.0.1:{settings.reports_port} "
            f"({exc.strerror}): another `rewards serve` may still be running; stop it, or set "
            "REWARDS_REPORTS_PORT to a free port"
        ) from exc
    thread = threading.Thread(
        target=uvicorn.Server(config).run,
        kwargs={"sockets": [listening]},
        daemon=True,
        name="reports",
    )
    thread.start()
    made = "" if key_given else f"; its key is kept in {settings.reports_dir / KEY_FILE}"
    print(
        f"Report files: links on the runs' pages open them from {settings.reports_url} "
        f"(rewards links BATCH makes new ones{made})",
        flush=True,
    )
    return thread
