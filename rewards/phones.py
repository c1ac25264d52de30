"""Mobile numbers as offices write them, made E.164 and checked against their country's
numbering plan, a million at once: the plans come from libphonenumber's metadata (the
``phonenumbers`` package) as patterns Arrow runs, not a Python call per number.

A number that its country does not have is refused, never rewritten into one that exists:
"020 7946 0959" in a sheet read as American is not +1 207 946 0959 (someone else's phone)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata, PhoneNumberType

from raas import rules

from .arrow_text import buffers
from .columnar import TEXT, as_series, without

CODES = sorted(str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
DEFAULT_COUNTRY = "US"  # where a number written without + is read, unless a run says otherwise


@cache
def plan(code: str, mobile: bool = False) -> tuple[str, tuple[int, ...]]:
    """The country calling code's numbering plan: a pattern every national number of it
    matches (the union over the regions sharing the code: +1 is the US, Canada and others)
    and the lengths such numbers have; ``mobile``: its mobile numbers only (where a country's
    plan does not tell them from landlines, as in the US, they are its mobile pattern too)."""
    patterns: list[str] = []
    lengths: set[int] = set()
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(code), ()):
        meta = (
            PhoneMetadata.metadata_for_nongeo_region(int(code))
            if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
            else PhoneMetadata.metadata_for_region(region)
        )
        desc = (meta.mobile if mobile else meta.general_desc) if meta else None
        if desc is not None and desc.national_number_pattern:
            patterns.append(desc.national_number_pattern)
            general = meta.general_desc.possible_length if meta and meta.general_desc else ()
            lengths |= set(desc.possible_length or general or ())
    return "^(?:" + "|".join(patterns or ["(?!)"]) + ")$", tuple(sorted(lengths))


def _code_of_prefix() -> np.ndarray:
    """Per three-digit start of a number (100-999), the calling code it begins with (0: none);
    calling codes are prefix-free, so the shortest that is one is it."""
    known = set(CODES)
    table = np.zeros(1000, dtype=np.int32)
    for start in range(100, 1000):
        text = str(start)
        table[start] = next((int(text[:w]) for w in (1, 2, 3) if text[:w] in known), 0)
    return table


CODE_OF_PREFIX = _code_of_prefix()


def in_plan(e164: pa.Array, mobile: bool = False) -> np.ndarray:
    """Per number in E.164 (``+`` and digits), whether its country has such a number (a
    mobile one, if ``mobile``): the calling code from the first three digits (a table, no
    Python per number), then each code's plan over its numbers at once."""
    digits = pc.utf8_slice_codeunits(e164, 1)
    code = CODE_OF_PREFIX[_first_three(e164)]
    ok = np.zeros(len(e164), dtype=bool)
    for value in np.unique(code[code > 0]).tolist():
        each = str(value)
        at = np.flatnonzero(code == value)
        national = pc.utf8_slice_codeunits(digits.take(pa.array(at)), len(each))
        pattern, lengths = plan(each, mobile)

        shaped = pc.match_substring_regex(national, pattern).to_numpy(zero_copy_only=False)
        sized = np.isin(pc.utf8_length(national).to_numpy(zero_copy_only=False), lengths)
        ok[at] = shaped & sized
    return ok


@cache
def example(region: str) -> str:
    """A mobile number of ``region`` in E.164, for a message ("+447400123456" for GB)."""
    number = phonenumbers.example_number_for_type(region or "US", PhoneNumberType.MOBILE)
    if number is None:
        return "+14155550100"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _first_three(e164: pa.Array) -> np.ndarray:
    """Per number, its first three digits after the ``+`` as a number (100-999; fewer digits
    padded with zeros: "+1" is 100), 0 when they are not digits or start with 0: read from
    the text's bytes, no string made per number."""
    text = e164.cast(TEXT)
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    offsets, data = buffers(text)
    if not len(data):
        return np.zeros(len(text), dtype=np.int64)
    length = np.diff(offsets)
    start = np.zeros(len(text), dtype=np.int64)
    ok = length > 1
    for k in (1, 2, 3):
        there = length > k
        digit = np.take(data, offsets[:-1] + k, mode="clip").astype(np.int64) - ord("0")
        ok &= ~there | ((digit >= 0) & (digit <= 9))
        start = start * 10 + np.where(there, digit, 0)
    return np.where(ok & (start >= 100), start, 0)


def normalise(raw: pd.Series, default_country: str | None) -> pd.Series:
    """E.164 where the number allows it ('' where it cannot be made one): written with ``+``,
    ``00`` or ``default_country``'s own international prefix (011 in the US), or nationally
    in ``default_country`` (its trunk prefix, the 0 of "07700 ...", dropped; a number that
    starts with the country's code taken as written with it). Written as people do: with
    fullwidth digits or no-break spaces (made plain first), the trunk 0 in brackets after the
    code ("+44 (0)20 ..."), or ".0" after it (a number column saved as decimals)."""
    text = pa.array(raw.array)
    if not pc.all(pc.string_is_ascii(text)).as_py():  # fullwidth "+44" is "+44", a no-break
        text = pc.utf8_normalize(text, "NFKC")  # space a space
    text = pc.replace_substring(text, "(0)", "")
    text = pc.replace_substring_regex(text, r"^(\+?\d{6,})\.0$", r"\1")
    digits = without(text, " \t.()/-")
    region = (default_country or "").upper()
    meta = PhoneMetadata.metadata_for_region(region) if region else None
    idd = (meta.preferred_international_prefix or meta.international_prefix) if meta else None
    if idd and idd.isdigit() and idd != "00":  # "011 44 20 ..." from the US
        digits = pc.replace_substring_regex(digits, f"^{idd}", "00")
    plus = pc.starts_with(digits, "+")
    intl = pc.starts_with(digits, "00")
    body = pc.if_else(intl, pc.utf8_slice_codeunits(digits, 2), pc.utf8_ltrim(digits, "+"))
    none = pa.scalar("", TEXT)
    out = pc.if_else(pc.or_(plus, intl), _plus(body), none)
    if meta is not None:
        code = str(meta.country_code)
        national = pc.and_(pc.invert(pc.or_(plus, intl)), pc.not_equal(digits, ""))
        trunk = meta.national_prefix or ""
        local = body
        if trunk and trunk != code:  # the 0 of "07700 ..." dropped
            cut = pc.utf8_slice_codeunits(body, len(trunk))
            local = pc.if_else(pc.starts_with(body, trunk), cut, body)
        # long enough to hold the code and a national number: written with the code
        shortest = 11 if code == "1" else 9 + len(code)
        has_code = pc.and_(
            pc.starts_with(body, code), pc.greater_equal(pc.utf8_length(body), shortest)
        )
        with_code = pc.binary_join_element_wise(pa.scalar(code, TEXT), local, none)
        made = pc.if_else(has_code, _plus(body), _plus(with_code))
        out = pc.if_else(national, made, out)
    return as_series(pc.if_else(pc.match_substring_regex(out, rules.E164.pattern), out, none))


def _plus(values: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar("+", TEXT), values, pa.scalar("", TEXT))
