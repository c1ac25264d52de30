"""Tango's line items: find them, and what can be done to one after its order was placed."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..reasons import reward_reasons
from ..wire import TangoJSON
from .common import PREFIX, EngineDep, body_of, call, query

router = APIRouter(prefix=PREFIX + "/lineItems")


@router.get("")
async def list_line_items(request: Request, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.line_reads.list, query(request)))


@router.get("/reasonCodes")
async def reason_codes() -> Response:
    return TangoJSON(reward_reasons())


@router.get("/{ref_li}")
async def get_line_item(ref_li: str, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.line_reads.get, ref_li))


@router.patch("/{ref_li}")
async def update_line_item(ref_li: str, request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.line_updates.update_line, ref_li, body), status_code=202)


@router.get("/{ref_li}/embeddedUrl")
async def embedded_url(ref_li: str, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.line_reads.embedded_url, ref_li))


@router.post("/{ref_li}/cancel")
async def cancel_line_item(ref_li: str, request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.lines.cancel, ref_li, body), status_code=202)


@router.post("/{ref_li}/freeze")
async def freeze_line_item(ref_li: str, request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.lines.freeze, ref_li, body), status_code=202)


@router.post("/{ref_li}/unfreeze")
async def unfreeze_line_item(ref_li: str, request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.lines.unfreeze, ref_li, body), status_code=202)


@router.post("/{ref_li}/resends")
async def resend_line_item(ref_li: str, request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.redelivery.resend, ref_li, body), status_code=201)


@router.post("/{ref_li}/reissue")
async def reissue_line_item(ref_li: str, request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.redelivery.reissue, ref_li, body), status_code=201)
