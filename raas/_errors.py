"""One exception tree for everything the RaaS API (or the network) can answer.

Each error maps one to one onto what Tango said and carries ``http_code`` and ``request_id``,
so a support ticket can be opened from the message alone. Messages never contain request
bodies, credentials or keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One entry of Tango's ``errors[]``: which field, which code, what is wrong."""

    field: str | None
    code: str | None
    message: str | None

    def __str__(self) -> str:
        where = self.field or "request"
        code = f" [{self.code}]" if self.code else ""
        return f"{where}{code}: {self.message or 'invalid'}"


class RaasError(Exception):
    """Base of every error raised by :mod:`raas`."""

    def __init__(
        self,
        message: str,
        *,
        http_code: int | None = None,
        request_id: str | None = None,
        path: str | None = None,
        errors: list[FieldError] | None = None,
    ) -> None:
        self.message = message
        self.http_code = http_code
        self.request_id = request_id
        self.path = path
        self.errors = errors or []
        super().__init__(self._render())

    def _render(self) -> str:
        status = f"HTTP {self.http_code}" if self.http_code is not None else "no HTTP response"
        rid = self.request_id or "none"
        text = f"{self.message} ({status}, requestId {rid}"
        text += f", {self.path})" if self.path else ")"
        if self.errors:
            text += "; " + "; ".join(str(e) for e in self.errors)
        return text


class APIConnectionError(RaasError):
    """The request could not be sent or no answer came back."""


class APITimeoutError(APIConnectionError):
    """No answer within the timeout. The request may still have been processed."""


class APIStatusError(RaasError):
    """Tango answered with an error status."""


class InvalidRequestError(APIStatusError):
    """400 or 422: the request was rejected; ``errors`` names each field."""


class AuthenticationError(APIStatusError):
    """401: credentials missing, wrong, or the token expired."""


class PermissionDeniedError(APIStatusError):
    """403: authenticated, but not allowed to do this."""


class InsufficientFundsError(APIStatusError):
    """402, or a refusal whose ``errors`` say ``INSUFFICIENT_FUNDS`` (a reissue or the resend
    of a failed line: the document lists no 402 for them): the balance does not cover it;
    nothing changed."""


class NotFoundError(APIStatusError):
    """404: no such customer, account, order, line item or subscription."""


class ConflictError(APIStatusError):
    """409: the resource exists already."""


class RateLimitError(APIStatusError):
    """429: "Exceeded the allowable TPS rate limit"."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(APIStatusError):
    """5xx: Tango failed. The request may still have been processed."""


INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientFundsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def error_class_for(status: int) -> type[APIStatusError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIStatusError)


def parse_field_errors(raw: Any) -> list[FieldError]:
    """Tango's ``errors[]`` comes in several shapes; keep what each one says."""
    out: list[FieldError] = []
    if not isinstance(raw, list):
        return out
    for item in raw:
        if isinstance(item, dict):
            out.append(
                FieldError(
                    field=item.get("path") or item.get("field"),
                    code=_str_or_none(
                        item.get("code") or item.get("errorCodeName") or item.get("errorCode")
                    ),
                    message=item.get("message") or item.get("errorMessage"),
                )
            )
        elif isinstance(item, str):
            out.append(FieldError(field=None, code=None, message=item))
    return out


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def from_response(
    status: int,
    body: Any,
    *,
    path: str,
    header_request_id: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """Build the exception for an error answer (``ErrorInfo`` or the ``errorCode`` variant)."""
    body = body if isinstance(body, dict) else {}
    message = (
        body.get("message")
        or body.get("errorMessage")
        or body.get("httpPhrase")
        or f"Tango answered HTTP {status}"
    )
    if body.get("errorCode") and body.get("errorMessage"):
        message = f"{body['errorCode']}: {body['errorMessage']}"
    request_id = body.get("requestId") or header_request_id
    field_errors = parse_field_errors(body.get("errors"))
    cls = error_class_for(status)
    if status < 500 and any(e.code == INSUFFICIENT_FUNDS for e in field_errors):
        cls = InsufficientFundsError
    kwargs: dict[str, Any] = {
        "http_code": body.get("httpCode") or status,
        "request_id": request_id,
        "path": path,
        "errors": field_errors,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)
