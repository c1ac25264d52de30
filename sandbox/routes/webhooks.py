"""Tango's webhook subscriptions, their events and test deliveries."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..errors import ApiError
from ..events import EVENT_CATEGORIES
from ..wire import TangoJSON
from .common import PREFIX, EngineDep, body_of, call, query

router = APIRouter(prefix=PREFIX + "/webhooks")


@router.get("/eventtypes")
async def event_types() -> Response:
    items = [{"category": c, "eventTypes": t} for c, t in EVENT_CATEGORIES.items()]
    return TangoJSON(
        {
            "numberOfElements": len(items),
            "maxResults": 200,
            "items": items,
            "prevPageAvailable": False,
            "nextPageAvailable": False,
        }
    )


@router.post("")
async def create_webhook(request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.subscriptions.create, body), status_code=201)


@router.get("")
async def list_webhooks(engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.subscriptions.list))


@router.get("/{webhook_id}")
async def get_webhook(webhook_id: str, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.subscriptions.get, webhook_id))


@router.patch("/{webhook_id}")
async def update_webhook(webhook_id: str, request: Request, engine: EngineDep) -> Response:
    body = await body_of(request)
    return TangoJSON(await call(engine.subscriptions.update, webhook_id, body))


@router.delete("/{webhook_id}")
async def delete_webhook(webhook_id: str, engine: EngineDep) -> Response:
    await call(engine.subscriptions.delete, webhook_id)
    return Response(status_code=200)


@router.post("/{webhook_id}/renew")
async def renew_webhook(webhook_id: str, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.subscriptions.renew, webhook_id))


@router.get("/{webhook_id}/events")
async def webhook_events(webhook_id: str, request: Request, engine: EngineDep) -> Response:
    return TangoJSON(await call(engine.subscriptions.list_events, webhook_id, query(request)))


@router.post("/{webhook_id}/replay")
async def replay(webhook_id: str, request: Request, engine: EngineDep) -> Response:
    params = query(request)
    if not params.get("fromRevision"):
        raise ApiError(
            400, "fromRevision is required", [{"path": "fromRevision", "message": "required"}]
        )
    to = params.get("toRevision")
    await call(
        engine.subscriptions.replay,
        webhook_id,
        int(params["fromRevision"]),
        int(to) if to else None,
    )
    return Response(status_code=200)


@router.post("/{webhook_id}/tests")
async def test_all(webhook_id: str, engine: EngineDep) -> Response:
    await call(engine.subscriptions.test, webhook_id, None)
    return Response(status_code=200)


@router.post("/{webhook_id}/tests/{test_name}")
async def test_one(webhook_id: str, test_name: str, engine: EngineDep) -> Response:
    await call(engine.subscriptions.test, webhook_id, test_name)
    return Response(status_code=200)
