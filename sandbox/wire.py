"""How the sandbox writes Tango's JSON: numbers, absent fields, timestamps, cursors, and the
``errors[]`` entries of a 400."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import Response
from pydantic import BaseModel, ValidationError

from .errors import ApiError


class TangoJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_num, separators=(",", ":")).encode()


def _num(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # a JSON number, as Tango sends; 2-decimal money round-trips
    raise TypeError(type(value).__name__)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clean(value: Any) -> Any:
    """Drop ``None`` members: Tango leaves absent fields out rather than sending null."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(
            400, "Invalid cursor", [{"path": "nextCursor", "message": "unknown cursor"}]
        ) from exc


def page_bounds(max_results: str | int | None, default: int, ceiling: int) -> int:
    if max_results in (None, ""):
        return default
    try:
        n = int(max_results)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ApiError(
            400, "maxResults must be a number", [{"path": "maxResults", "message": "not a number"}]
        ) from exc
    if n < 1:
        raise ApiError(
            400,
            "maxResults must be at least 1",
            [{"path": "maxResults", "message": "must be >= 1"}],
        )
    return min(n, ceiling)


def cursor_page(offset: int, size: int, count: int, total: int) -> dict[str, Any]:
    """The cursor members of a page that starts at ``offset`` and holds ``count`` of ``total``."""
    more = offset + count < total
    return {
        "prevCursor": encode_cursor(max(offset - size, 0)) if offset else None,
        "nextCursor": encode_cursor(offset + size) if more else None,
        "prevPageAvailable": offset > 0,
        "nextPageAvailable": more,
    }


def field_error(path: str, code: str, message: str) -> dict[str, Any]:
    """One entry of a 400's ``errors[]``."""
    return {"path": path, "code": code, "message": message}


def require(body: Any, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return [field_error("body", "Type", "must be a JSON object")]
    return [field_error(f, "NotBlank", f"{f} is required") for f in fields if not body.get(f)]


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], body: Any) -> M:
    """The request body as ``model`` (Tango's request schema), or 400 naming each field."""
    try:
        return model.model_validate(body if body is not None else {})
    except ValidationError as exc:
        raise ApiError(400, "Request validation failed", pydantic_errors(exc)) from exc


def pydantic_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as Tango's ``errors[]``: ``lineItems[3].recipient.email``-style paths."""
    out = []
    for err in exc.errors():
        path = ""
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        out.append(field_error(path or "body", err["type"], err["msg"]))
    return out
