"""Amounts as offices write them: the plain number Tango takes ("25.50", the account
currency's sign or code beside it allowed: "$25.50", "25.50 USD"), and for anything else what
is wrong with it, said so that the person can fix it ("1,000" has a thousands separator,
"25,50" a decimal comma, "€25" is another currency). A recipients file and an actions file
read their amounts here: one reading of an amount, one set of answers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import currency as currency_marks
from .columnar import TEXT, empty, matches, to_numpy

EMPTY = "amount is empty"
NOT_POSITIVE = "amount must be greater than 0"
NOT_A_NUMBER = (
    "amount is not a number: write it as 25 or 25.50 (the account currency's sign may "
    "stand before it)"
)
PLAIN = r"^\d{1,9}(\.\d{1,2})?$"

# amounts written as people do, but not as Tango takes them: (pattern, what to write instead)
MISTAKES = (
    (  # rewards.xlsx_formats writes a number its cell's format rounds so
        r"\(shown as [^)]*\)$",
        "amount has more decimals than its cell shows (its format rounds it): type the "
        "amount meant, with at most 2 decimals, in a cell that shows them (e.g. 0.00)",
    ),
    (r"^\D{0,4}-\s*\D{0,4}\d", "amount must be greater than 0: write it without a minus sign"),
    (
        r"^\(\s*\D{0,4}\d[\d.,]*\s*\)$",
        "amount in brackets is how accounts write a negative amount: write a positive number "
        "without brackets",
    ),
    (r"^\+\s*\d", "amount has a plus sign: write it without one, e.g. 25"),
    (
        r"^-?\d[\d.,]*\s*%$",
        "amount is a percentage (a cell formatted as one shows 100 times its number): write "
        "the amount itself, e.g. 25, in a cell formatted as a number",
    ),
    (
        r"^\d{1,3}([, ]\d{3})+(\.\d{1,2})?$",
        "amount has a thousands separator: write 1000, not 1,000 or 1 000",
    ),
    (r"^\.\d+$|^\d+\.$", "amount needs digits on both sides of its point: write 0.50 or 25.00"),
    (r"^\d+,\d{1,2}$", "amount has a decimal comma: write it with a decimal point, e.g. 25.50"),
    (
        r"^\d{1,3}(\.\d{3})+,\d{1,2}$|^\d{1,3}(\.\d{3}){2,}$",
        "amount has a point for thousands (and a comma for decimals): write 1000.50, not 1.000,50",
    ),
    (r"^\d+\.\d{3,}$", "amount must have at most 2 decimals, e.g. 25.50"),
    (r"^\d+(\.\d+)?[eE][-+]?\d+$", "amount is in scientific notation: write it in full, e.g. 1000"),
)


def other_currency(currency: str) -> str:
    return (
        f"amount is written in another currency than the account's ({currency}): write it in "
        f"{currency}, as a plain number (in Excel, also the cell's format: Number, not another "
        "currency)"
    )


@dataclass(frozen=True)
class Amounts:
    """Per amount as written: without the account currency's sign, whether that is a plain
    decimal, and its integer cents (0 if not)."""

    bare: pa.Array
    plain: np.ndarray
    cents: np.ndarray


def read(values: pa.Array, currency: str) -> Amounts:
    """``values`` (distinct amounts as written, for a large file) read in ``currency``."""
    bare = currency_marks.unsigned(values, currency)
    plain = matches(bare, PLAIN)
    zero = pa.scalar("0", bare.type)
    number = pc.cast(pc.if_else(pa.array(plain), bare, zero), pa.float64())
    return Amounts(bare, plain, np.round(to_numpy(number) * 100).astype(np.int64))


def problems(values: pa.Array, amounts: Amounts, currency: str) -> np.ndarray:
    """Per amount (``amounts`` is :func:`read` of ``values``), what is wrong with it (None: a
    plain number above 0). The mistakes are looked for among the amounts that are not plain,
    which are few."""
    said = np.full(len(values), None, dtype=object)
    blank = empty(values)
    said[blank] = EMPTY
    said[amounts.plain & (amounts.cents <= 0)] = NOT_POSITIVE
    at = np.flatnonzero(~blank & ~amounts.plain)
    if not len(at):
        return said
    written = currency_marks.as_written(values.take(pa.array(at)))
    bare = amounts.bare.take(pa.array(at))
    own = currency_marks.mark(currency)
    other = matches(written, currency_marks.ANY_SIGN) & ~matches(written, rf"^\s*{own}|{own}\s*$")
    reasons = np.full(len(at), NOT_A_NUMBER, dtype=object)
    reasons[other] = other_currency(currency)
    odd = ~other
    for pattern, reason in MISTAKES:
        if not odd.any():
            break
        found = odd & matches(bare, pattern)
        reasons[found] = reason
        odd &= ~found
    said[at] = reasons
    return said


def one(text: str, currency: str) -> tuple[Decimal | None, str | None]:
    """One amount as written: its value, or what is wrong with it."""
    values = pa.array([text], TEXT)
    amounts = read(values, currency)
    if (problem := problems(values, amounts, currency)[0]) is not None:
        return None, str(problem)
    return Decimal(str(amounts.bare[0].as_py())), None
