"""Tango's line items: what can be done to one after its order was placed."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..wire import TangoJSON
from .common import PREFIX, EngineDep, body_of, call

router = APIRouter(prefix=PREFIX + "/lineItems")


@router.post("/{ref_li}/cancel")
async def cancel_line_item(ref_li: str, request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.lines.cancel, ref_li, body), status_code=202)
