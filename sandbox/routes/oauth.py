"""``POST /oauth/token``: client credentials for a Bearer token, as Tango's auth host does."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response

from ..errors import ApiError
from ..wire import TangoJSON
from .common import EngineDep, call

router = APIRouter()


@router.post("/oauth/token")
async def oauth_token(request: Request, engine: EngineDep) -> Response:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("grant_type") != "client_credentials":
        return TangoJSON({"error": "unsupported_grant_type"}, status_code=400)
    try:
        token = await call(
            engine.auth.issue_token, form.get("client_id", ""), form.get("client_secret", "")
        )
    except ApiError:
        return TangoJSON(
            {"error": "access_denied", "error_description": "Unauthorized"}, status_code=401
        )
    return TangoJSON(token)
