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
from phonenumbers import PhoneMetadata

from raas import rules

CODES = sorted(str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@cache
def plan(code: str) -> tuple[str, tuple[int, ...]]:
    """The country calling code's numbering plan: a pattern every national number of it
    matches (the union over the regions sharing the code: +1 is the US, Canada and others)
    and the lengths such numbers have."""
    patterns: list[str] = []
    lengths: set[int] = set()
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(code), ()):
        meta = (
            PhoneMetadata.metadata_for_nongeo_region(int(code))
            if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
            else PhoneMetadata.metadata_for_region(region)
        )
        desc = meta.general_desc if meta else None
        if desc is not None and desc.national_number_pattern:
            patterns.append(desc.national_number_pattern)
            lengths |= set(desc.possible_length or ())
    return "^(?:" + "|".join(patterns or ["(?!)"]) + ")$", tuple(sorted(lengths))


def in_plan(e164: pa.Array) -> np.ndarray:
    """Per number in E.164 (``+`` and digits), whether its country has such a number."""
    digits = pc.utf8_slice_codeunits(e164, 1)
    code = np.full(len(e164), "", dtype=object)
    for width in (1, 2, 3):  # calling codes are prefix-free: the first that is one is it
        prefix = pc.utf8_slice_codeunits(digits, 0, width)
        found = pc.is_in(prefix, value_set=pa.array(CODES, prefix.type)).to_numpy(
            zero_copy_only=False
        )
        take = found & (code == "")
        code[take] = np.asarray(prefix.to_numpy(zero_copy_only=False), dtype=object)[take]
    ok = np.zeros(len(e164), dtype=bool)
    for each in {c for c in code if c}:
        at = np.flatnonzero(code == each)
        national = pc.utf8_slice_codeunits(digits.take(pa.array(at)), len(each))
        pattern, lengths = plan(each)
        shaped = pc.match_substring_regex(national, pattern).to_numpy(zero_copy_only=False)
        sized = np.isin(pc.utf8_length(national).to_numpy(zero_copy_only=False), lengths)
        ok[at] = shaped & sized
    return ok


def normalise(raw: pd.Series, default_country: str | None) -> pd.Series:
    """E.164 where the number allows it ('' where it cannot be made one): written with ``+``
    or ``00``, or nationally in ``default_country`` (its trunk prefix, the 0 of "07700 ...",
    dropped; a number that starts with the country's code taken as written with it)."""
    digits = raw.str.replace(r"[ \t.()/-]", "", regex=True)  # a class pyarrow runs natively
    plus = digits.str.startswith("+")
    intl = digits.str.startswith("00")
    body = digits.str.lstrip("+").where(~intl, digits.str[2:])
    out = ("+" + body).where(plus | intl, "")
    region = (default_country or "").upper()
    meta = PhoneMetadata.metadata_for_region(region) if region else None
    if meta is not None:
        code = str(meta.country_code)
        national = (~plus) & (~intl) & (digits != "")
        trunk = meta.national_prefix or ""
        local = body.str.removeprefix(trunk) if trunk and trunk != code else body
        has_code = body.str.startswith(code) & (
            body.str.len() > 10 if code == "1" else body.str.len() > 9 + len(code) - 1
        )
        out = out.where(~national, ("+" + body).where(has_code, "+" + code + local))
    return out.where(out.str.fullmatch(rules.E164.pattern), "")
