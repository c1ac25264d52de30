"""Tango's async orders: place one, read its summary or its line items, list them."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

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
