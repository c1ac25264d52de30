"""Tango's catalog, customers and accounts."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..wire import TangoJSON
from .common import PREFIX, EngineDep, body_of, call

router = APIRouter(prefix=PREFIX)


@router.get("/catalogs")
async def catalogs(engine: EngineDep) -> Response:
    return TangoJSON(engine.catalog.model_dump(mode="json", exclude_none=True))


@router.get("/customers")
async def customers(engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.accounts.list_customers))


@router.post("/customers")
async def create_customer(request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.accounts.create_customer, body), status_code=201)


@router.get("/customers/{customer}")
async def customer(customer: str, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.accounts.get_customer, customer))


@router.get("/customers/{customer}/accounts")
async def customer_accounts(customer: str, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.accounts.list_accounts, customer))


@router.post("/customers/{customer}/accounts")
async def create_account(customer: str, request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.accounts.create_account, customer, body), status_code=201)


@router.get("/accounts")
async def accounts(engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.accounts.list_accounts))


@router.get("/accounts/{account}")
async def account(account: str, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.accounts.get_account, account))
