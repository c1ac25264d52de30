"""Tango's catalog and exchange rates, customers, accounts and their low-balance alerts."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..exchange_rates import exchange_rates
from ..wire import TangoJSON
from .common import PREFIX, EngineDep, body_of, call, query

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


@router.patch("/customers/{customer}/accounts/{account}")
async def update_account(
    customer: str, account: str, request: Request, engine: EngineDep
) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.accounts.update_account, customer, account, body))


ALERTS = "/customers/{customer}/accounts/{account}/lowbalance"


@router.get(ALERTS)
async def list_alerts(customer: str, account: str, request: Request, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.alerts.list, customer, account, query(request)))


@router.post(ALERTS)
async def create_alert(
    customer: str, account: str, request: Request, engine: EngineDep
) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.alerts.create, customer, account, body))


@router.get(ALERTS + "/{alert}")
async def get_alert(customer: str, account: str, alert: str, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.alerts.get, customer, account, alert))


@router.patch(ALERTS + "/{alert}")
async def update_alert(
    customer: str, account: str, alert: str, request: Request, engine: EngineDep
) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.alerts.update, customer, account, alert, body))


@router.delete(ALERTS + "/{alert}")
async def delete_alert(customer: str, account: str, alert: str, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.alerts.delete, customer, account, alert))


@router.get("/exchangerates")
async def rates(request: Request) -> Response:
    return TangoJSON(exchange_rates(query(request)))


@router.get("/accounts")
async def accounts(engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.accounts.list_accounts))


@router.get("/accounts/{account}")
async def account(account: str, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.accounts.get_account, account))
