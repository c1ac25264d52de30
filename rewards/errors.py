"""Errors a user can act on. Their messages are meant to be shown as they are, without a
traceback: they name the file (and row, column or field) and say what to do."""

from __future__ import annotations

from raas import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RaasError,
    RateLimitError,
    ServerError,
)


class RewardsError(Exception):
    """Base of the expected, explainable failures of a run."""


class InputError(RewardsError):
    """The spreadsheet cannot be read or lacks what a run needs. Nothing was sent."""


class GateError(RewardsError):
    """The run stopped before sending (balance short, all-or-nothing, approval refused)."""


class LedgerIdentityError(RewardsError):
    """The ledger keys its lines by another line identity than this program's: its lines
    would not be recognised, and rewards would go out twice."""


class BooksDoNotBalanceError(RewardsError):
    """The reconciliation's counts or money do not add up."""


RERUN = "run the same file again once Tango answers: nothing is sent twice"


def explain(exc: RaasError) -> str:
    """One line for a failure of Tango's that a person can act on: the setting to check for a
    configuration problem, a rerun only where a rerun helps."""
    if isinstance(exc, AuthenticationError):
        return (
            f"Tango refused the credentials ({exc}): check TANGO_PLATFORM_NAME and "
            "TANGO_PLATFORM_KEY (or TANGO_CLIENT_ID and TANGO_CLIENT_SECRET)"
        )
    if isinstance(exc, PermissionDeniedError):
        return (
            f"Tango refused access ({exc}): the platform may not use this customer or "
            "account; check TANGO_CUSTOMER_IDENTIFIER / TANGO_ACCOUNT_IDENTIFIER (or the "
            "run's customer_identifier / account_identifier)"
        )
    if isinstance(exc, NotFoundError):
        return (
            f"Tango does not know what was asked for ({exc}): check the customer and account "
            "(TANGO_CUSTOMER_IDENTIFIER / TANGO_ACCOUNT_IDENTIFIER, or the run's parameters)"
        )
    if isinstance(exc, APIConnectionError | APITimeoutError):
        return f"Tango could not be reached ({exc}); check TANGO_BASE_URL, then {RERUN}"
    if isinstance(exc, ServerError | RateLimitError):
        return f"Tango kept failing ({exc}); {RERUN}"
    return f"Tango failed: {exc}; {RERUN}"
