"""The sandbox's own administration (not Tango's): faults, funding, redeeming a reward, tokens,
stats, certificates.
It asks for the platform credentials, as Tango's paths do; only ``/sandbox/health`` is open."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Depends, Request, Response

from ..errors import ApiError
from ..faults import Faults
from ..wire import TangoJSON
from .common import EngineDep, body_of, call


async def platform_only(request: Request, engine: EngineDep) -> None:
    """Anyone who could reach the admin API could fund accounts: ask for what Tango's paths
    ask for."""
    if not engine.auth.authorised(request.headers.get("authorization", "")):
        raise ApiError(401, "Full authentication is required to access this resource")


router = APIRouter(prefix="/sandbox", dependencies=[Depends(platform_only)])
open_router = APIRouter(prefix="/sandbox")


@router.post("/x509")
async def x509_pair(engine: EngineDep) -> Response:
    return TangoJSON({"signingCertificate": await call(engine.subscriptions.issue_x509)})


@router.get("/faults")
async def get_faults(engine: EngineDep) -> Response:
    return TangoJSON(engine.config.faults.model_dump())


@router.post("/faults")
async def set_faults(request: Request, engine: EngineDep) -> Response:
    engine.set_faults(Faults.model_validate(await body_of(request) or {}))
    return TangoJSON(engine.config.faults.model_dump())


@router.post("/accounts/{account}/fund")
async def fund(account: str, request: Request, engine: EngineDep) -> Response:
    body = await body_of(request) or {}
    amount = Decimal(str(body.get("amount", 0)))
    return TangoJSON(await call(engine.fund_account, account, amount))


@router.post("/lineItems/{ref_li}/redeem")
async def redeem(ref_li: str, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.lines.redeem, ref_li))


@router.post("/tokens/revoke")
async def revoke(engine: EngineDep) -> Response:
    await call(engine.auth.revoke_tokens)
    return Response(status_code=204)


@router.get("/stats")
async def stats(request: Request, engine: EngineDep) -> Response:
    out = await call(engine.stats)
    window = float(request.query_params.get("window", 1.0))
    out["busiest_window"] = {"seconds": window, "requests": engine.busiest_window(window)}
    out["requests"] = {"received": engine.requests_seen, "rateLimited": engine.rate_limited}
    return TangoJSON(out)


@open_router.get("/health")
async def health() -> Response:
    return TangoJSON({"status": "ok"})
