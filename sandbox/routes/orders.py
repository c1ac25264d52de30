"""Tango's async orders: place one, read its summary or its line items, list them, change
their bookkeeping fields or a line's delivery date, sender and note; the actions' reason codes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..reasons import async_reasons
from ..wire import TangoJSON
from .common import PREFIX, EngineDep, body_of, call, query

router = APIRouter(prefix=PREFIX + "/asyncOrders")
ORDER = "/customers/{customer}/accounts/{account}/{ref}"


@router.post("")
async def create_order(request: Request, engine: EngineDep) -> Response:
    status, body = await call(engine.orders.create, await body_of(request))
    return TangoJSON(body, status_code=status)


@router.get("")
async def list_orders(request: Request, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.order_reads.list, query(request)))


@router.get("/reasonCodes")
async def reason_codes() -> Response:
    return TangoJSON(async_reasons())


@router.patch("/lineItems/{ref_li}")
async def update_async_line_item(ref_li: str, request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(
        await call(engine.line_updates.update_async_line, ref_li, body), status_code=201
    )


@router.patch(ORDER)
async def update_order(
    customer: str, account: str, ref: str, request: Request, engine: EngineDep
) -> Response:
    body, params = await body_of(request), query(request)
    return TangoJSON(
        await call(engine.line_updates.update_order, customer, account, ref, body, params)
    )


@router.get(ORDER)
async def order_summary(
    customer: str, account: str, ref: str, request: Request, engine: EngineDep
) -> Response:
    return TangoJSON(await call(engine.order_reads.summary, customer, account, ref, query(request)))


@router.get(ORDER + "/lineItems")
async def order_line_items(
    customer: str, account: str, ref: str, request: Request, engine: EngineDep
) -> Response:
    params = query(request)
    return TangoJSON(await call(engine.order_reads.line_items, customer, account, ref, params))
