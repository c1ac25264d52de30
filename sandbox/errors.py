"""Errors the sandbox answers with, in Tango's ``ErrorInfo`` shape."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}


def error_info(
    status: int,
    message: str,
    path: str,
    errors: list[dict[str, Any]] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return {
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "requestId": request_id or str(uuid.uuid4()),
        "path": path,
        "httpCode": status,
        "httpPhrase": phrase,
        "i18nKey": f"error.http.{status}",
        "message": message,
        "errors": errors or [],
    }
