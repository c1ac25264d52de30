"""The sandbox's HTTP face: Tango's paths under ``/raas/v2``, an OAuth token endpoint, and an
admin API under ``/sandbox`` (faults, funding, tokens, stats, certificates) that Tango does not
have. Both need the platform credentials (Basic, or a Bearer token); only ``/sandbox/health``
and the sandbox's own docs are open.

The routes are in ``routes/`` (one module per area), what they do in the engine's parts; every
request to Tango's paths passes the gate (``gate.py``) and the fault injection (``faults.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from . import gate
from .config import SandboxConfig
from .engine import Engine
from .errors import ApiError
from .routes import ROUTERS
from .workers import Workers

__all__ = ["create_app"]


def create_app(config: SandboxConfig) -> FastAPI:
    engine = Engine(config)
    workers = Workers(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers.start()
        yield
        workers.stop()
        engine.store.close()

    app = FastAPI(
        title="Tango RaaS sandbox",
        lifespan=lifespan,
        docs_url="/sandbox/docs",
        openapi_url="/sandbox/openapi.json",
    )
    app.state.engine = engine

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return gate.fail(request, exc.status, exc.message, exc.errors, exc.headers)

    gate.install(app, config, engine.auth, engine.dice, engine.traffic)
    for router in ROUTERS:
        app.include_router(router)
    return app
