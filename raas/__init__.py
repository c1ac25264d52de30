"""``raas``: a client for Tango's RaaS v2 API. No Prefect, no pandas."""

from . import _accounts, _line_items, _models
from ._accounts import *  # noqa: F403  (the typed wire models: their own __all__)
from ._client import OrderSubmission, RaasClient
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
from ._settings import (
    TANGO_PRODUCTION_URL,
    TANGO_SANDBOX_URL,
    TangoSettings,
)
from .webhooks import AsyncOrderStatusEvent, SignatureError, parse_async_order_event

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
