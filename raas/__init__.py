"""``raas``: a client for Tango's RaaS v2 API. No Prefect, no pandas.

The wire models and rules load with the package; the HTTP client, the webhook verifier and
the settings load when first named (:data:`_LATER`): checking a file against a saved catalog
needs neither httpx nor cryptography, and a process that only validates starts faster."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _accounts, _line_items, _models
from ._accounts import *  # noqa: F403  (the typed wire models: their own __all__)
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    FieldError,
    InsufficientFundsError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RaasError,
    RateLimitError,
    ServerError,
)
from ._line_items import *  # noqa: F403
from ._models import *  # noqa: F403
from ._resilience import RateLimiter, RetryPolicy

if TYPE_CHECKING:
    from ._client import OrderSubmission, RaasClient
    from ._settings import TANGO_PRODUCTION_URL, TANGO_SANDBOX_URL, TangoSettings
    from .webhooks import AsyncOrderStatusEvent, SignatureError, parse_async_order_event

_LATER = {
    "OrderSubmission": "_client",
    "RaasClient": "_client",
    "TANGO_PRODUCTION_URL": "_settings",
    "TANGO_SANDBOX_URL": "_settings",
    "TangoSettings": "_settings",
    "AsyncOrderStatusEvent": "webhooks",
    "SignatureError": "webhooks",
    "parse_async_order_event": "webhooks",
}


def __getattr__(name: str) -> Any:
    if name not in _LATER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LATER[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "TANGO_PRODUCTION_URL",
    "TANGO_SANDBOX_URL",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncOrderStatusEvent",
    "AuthenticationError",
    "ConflictError",
    "FieldError",
    "InsufficientFundsError",
    "InvalidRequestError",
    "NotFoundError",
    "OrderSubmission",
    "PermissionDeniedError",
    "RaasClient",
    "RaasError",
    "RateLimitError",
    "RateLimiter",
    "RetryPolicy",
    "ServerError",
    "SignatureError",
    "TangoSettings",
    "parse_async_order_event",
]
__all__ += _models.__all__ + _line_items.__all__ + _accounts.__all__
