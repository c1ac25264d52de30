"""Errors a user can act on. Their messages are meant to be shown as they are, without a
traceback: they name the file (and row, column or field) and say what to do."""

from __future__ import annotations


class RewardsError(Exception):
    """Base of the expected, explainable failures of a run."""


class InputError(RewardsError):
    """The spreadsheet cannot be read or lacks what a run needs. Nothing was sent."""


class GateError(RewardsError):
    """The run stopped before sending (balance short, all-or-nothing, approval refused)."""


class BooksDoNotBalanceError(RewardsError):
    """The reconciliation's counts or money do not add up."""
