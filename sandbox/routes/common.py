"""What every route module uses: the engine of the running app, the request's JSON body, its
query, and running the engine's (blocking, SQLite) work off the event loop."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ..engine import Engine
from ..errors import ApiError
from ..gate import PREFIX

__all__ = ["PREFIX", "EngineDep", "body_of", "call", "query"]


def _engine(request: Request) -> Engine:
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(_engine)]


async def body_of(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        raise ApiError(400, "Malformed JSON request body") from exc


def query(request: Request) -> dict[str, Any]:
    """The query; a parameter given several times (an array) as one comma-separated value."""
    params = request.query_params
    return {key: ",".join(params.getlist(key)) for key in params}


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    return await run_in_threadpool(fn, *args)
