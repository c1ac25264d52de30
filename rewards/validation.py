"""What a valid recipient row is: one declaration, checked lazily over the whole DataFrame.

Every failing (row, column, reason) is collected; a bad row never stops the good ones.
Checks are vectorised; Tango's item rules (amount, method, schedule, fees) come from
:mod:`raas.rules` and are applied once per distinct (item, value) pair, then mapped back.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute

from raas import rules
from raas._models import Catalog, CatalogItem

from .columns import ROW

SHIPPING_METHODS = frozenset(
    {
        "upsground",
        "upsgroundsignature",
        "ups2ndday",
        "ups2nddaysignature",
        "upsnextday",
        "upsnextdaysignature",
        "uspspriority",
        "uspsprioritysig",
        "usps1stclass",
    }
)
METHOD_ALIASES: dict[str, str] = {
    **{a: "EMAIL" for a in ("email", "e-mail", "e mail", "mail to inbox", "inbox")},
    **{a: "PHONE" for a in ("phone", "sms", "text", "text message", "mobile", "sms/text")},
    **{
        a: "ADDRESS"
        for a in (
            "address",
            "mail",
            "postal",
            "post",
            "postal mail",
            "ship",
            "shipping",
            "mailed",
            "physical",
        )
    },
    **{a: "EMBEDDED" for a in ("embedded", "link", "url", "embedded link", "reward link")},
    **{a: "NONE" for a in ("none", "no delivery", "code only", "no")},
}
TEXT_COLUMNS = (
    "first_name",
    "last_name",
    "message",
    "email_subject",
    "campaign",
    "street_line_1",
    "street_line_2",
    "city",
    "state_or_province",
)
PROBLEM_COLUMNS = [ROW, "column", "reason"]


@dataclass(frozen=True)
class ValidationOptions:
    default_phone_country: str | None = "US"
    default_campaign: str | None = None
    today: date | None = None


@dataclass
class Validated:
    """``valid``: normalised rows ready to plan. ``problems``: one line per failing check.
    ``rejected``: the original cells of each failing row, its row number and its problems."""

    valid: pd.DataFrame
    rejected: pd.DataFrame
    problems: pd.DataFrame
    rows_in: int


class _Keys:
    """Integer codes of a column's values, computed once and reused by every check."""

    def __init__(self, values: pd.Series | np.ndarray) -> None:
        # a Series keeps its Arrow storage, so pyarrow hashes it (no Python objects)
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        self.codes, self.uniques = np.asarray(codes), np.asarray(uniques, dtype=object)


@dataclass
class _PerRow:
    """What a rule said once per distinct key, and which answer each row gets (-1: a row
    the rule was not asked about)."""

    answers: np.ndarray  # object: None (fine) or a reason
    which: np.ndarray
    index: pd.Index

    def found(self) -> pd.Series:
        """Rows the rule has something to say about."""
        said = np.array([a is not None for a in self.answers] + [False])
        return pd.Series(said[self.which], index=self.index)  # -1 picks the False

    def reasons(self, mask: pd.Series) -> pd.Series:
        rows = mask.to_numpy()
        return pd.Series(self.answers[self.which[rows]], index=self.index[rows])


def _by_unique(
    keys: list[_Keys], fn: Callable[..., object], index: pd.Index, where: pd.Series | None = None
) -> _PerRow:
    """Apply ``fn`` once per distinct combination of ``keys`` (rows in ``where`` only)."""
    combined = np.zeros(len(index), dtype=np.int64)
    for key in keys:
        combined = combined * max(len(key.uniques), 1) + key.codes
    rows = np.flatnonzero(where.to_numpy()) if where is not None else np.arange(len(index))
    which = np.full(len(index), -1, dtype=np.int64)
    if not len(rows):
        return _PerRow(np.empty(0, dtype=object), which, index)
    first, inverse = _distinct(combined[rows])
    answers = np.empty(len(first), dtype=object)
    for n, row in enumerate(rows[first]):
        answers[n] = fn(*(key.uniques[key.codes[row]] for key in keys))
    which[rows] = inverse
    return _PerRow(answers, which, index)


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For integer keys: the position of each distinct key's first row, and each row's
    distinct-key number (a hash table, not a sort like ``np.unique``)."""
    inverse, uniques = pd.factorize(values)
    first = np.empty(len(uniques), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(values) - 1, -1, -1)
    return first, inverse


class _Problems:
    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.parts: list[pd.DataFrame] = []
        self.bad = pd.Series(False, index=frame.index)

    def flag(
        self,
        mask: pd.Series,
        column: str,
        reason: str | pd.Series | Callable[[pd.Series], pd.Series],
    ) -> None:
        """``reason``: one text, one per row, or a function of the mask (built only for the
        flagged rows, which are few)."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        rows = self.frame.loc[mask, ROW]
        if callable(reason):
            why = reason(mask)
        else:
            why = reason[mask] if isinstance(reason, pd.Series) else reason
        self.parts.append(pd.DataFrame({ROW: rows, "column": column, "reason": why}))
        self.bad |= mask

    def table(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=PROBLEM_COLUMNS)
        out = pd.concat(self.parts)
        order = out.index.to_series().rank(method="first")
        return (
            out.assign(_o=order).sort_values([ROW, "_o"]).drop(columns="_o").reset_index(drop=True)
        )


def _to_cents(text: pd.Series) -> pd.Series:
    """Plain decimal text (already checked) to integer cents, parsed by pyarrow."""
    values = pa.compute.cast(pa.array(text.array), pa.float64()).to_numpy(zero_copy_only=False)
    return pd.Series(np.round(values * 100).astype(np.int64), index=text.index)


def _to_int(text: pd.Series) -> pd.Series:
    values = pa.compute.cast(pa.array(text.array), pa.int64()).to_numpy(zero_copy_only=False)
    return pd.Series(values, index=text.index)


def _texts(table: list[str], codes: np.ndarray, index: pd.Index) -> pd.Series:
    """``table[codes]`` as an Arrow-backed text column (pyarrow's take: no Python objects)."""
    taken = pa.compute.take(pa.array(table or [""], pa.string()), pa.array(codes))
    return pd.Series(pd.arrays.ArrowStringArray(taken), index=index)


def _lowcard(values: pd.Series, fn: Callable[[object], str | None]) -> pd.Series:
    """``fn`` over a column with few distinct values: once per value, then mapped back."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return _texts([fn(u) or "" for u in uniques], np.asarray(codes), values.index)


def _method_name(value: object) -> str | None:
    raw = str(value)
    spaced = " ".join(raw.lower().split())
    if spaced in METHOD_ALIASES:
        return METHOD_ALIASES[spaced]
    return raw.upper() if raw.upper() in ("EMBEDDED_COMPONENT", "WHATSAPP") else None


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return frame[name].astype("str")
    return pd.Series("", index=frame.index, dtype="str")


def normalise_phone(raw: pd.Series, default_country: str | None) -> pd.Series:
    """E.164 where the number allows it; '' where it cannot be made one."""
    digits = raw.str.replace(r"[ \t.()/-]", "", regex=True)  # a class pyarrow runs natively
    plus = digits.str.startswith("+")
    intl = digits.str.startswith("00")
    body = digits.str.lstrip("+").where(~intl, digits.str[2:])
    out = ("+" + body).where(plus | intl, "")
    if default_country:
        code = str(phonenumbers.country_code_for_region(default_country.upper()) or "")
        if code:
            national = (~plus) & (~intl) & (digits != "")
            local = body.str.lstrip("0")
            has_code = local.str.startswith(code) & (
                local.str.len() > 10 if code == "1" else local.str.len() > 9 + len(code) - 1
            )
            out = out.where(~national, ("+" + local).where(has_code, "+" + code + local))
    return out.where(out.str.fullmatch(r"\+[1-9]\d{6,14}"), "")


def _repeat_keys(parts: list[pd.Series]) -> np.ndarray:
    """One integer per distinct (recipient, reward, campaign, row key)."""
    joined = pa.compute.binary_join_element_wise(
        *(pa.array(x.astype("str").array).cast(pa.large_string()) for x in parts),
        pa.scalar("\x1f", pa.large_string()),
    )
    if isinstance(joined, pa.ChunkedArray):  # one dictionary for the whole column
        joined = joined.combine_chunks()
    return pa.compute.dictionary_encode(joined).indices.to_numpy(zero_copy_only=False)


def _keep_rows(columns: dict[str, pd.Series], keep: np.ndarray) -> pd.DataFrame:
    """The rows in ``keep`` of these columns, as a new frame: Arrow text columns are filtered
    by Arrow in two threads (the kernel runs without the GIL), the others by numpy."""
    mask = pa.array(keep)

    def one(values: pd.Series) -> pd.Series:
        array = values.array
        if isinstance(array, pd.arrays.ArrowStringArray):
            kept = pa.compute.filter(pa.array(array), mask)
            return pd.Series(pd.arrays.ArrowStringArray(kept), dtype=values.dtype)
        return pd.Series(values.to_numpy()[keep], dtype=values.dtype)

    with ThreadPoolExecutor(max_workers=2) as pool:
        kept = dict(zip(columns, pool.map(one, columns.values()), strict=True))
    return pd.DataFrame(kept, copy=False)


def _phones(
    raw: pd.Series, has_phone: np.ndarray, default_country: str | None
) -> tuple[pd.Series, pd.Series]:
    """Each row's number in E.164 ('' when none or invalid), and whether Excel turned it
    into scientific notation; only the rows that have a number are looked at."""
    numbers = raw[has_phone]
    sci = np.zeros(len(raw), dtype=bool)
    sci[has_phone] = numbers.str.contains(r"\d[eE]\+?\d", regex=True).to_numpy(dtype=bool)
    phone = _scatter(normalise_phone(numbers, default_country), has_phone, raw)
    return phone, pd.Series(sci, index=raw.index)


def _scatter(values: pd.Series, rows: np.ndarray, like: pd.Series) -> pd.Series:
    """Text ``values`` computed for ``rows`` only, placed back in a column shaped ``like``,
    '' elsewhere (Arrow's replace_with_mask: no per-row Python)."""
    filled = pa.array(values.array).cast(pa.string())
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    empty = pa.compute.fill_null(pa.nulls(len(like), pa.string()), "")
    out = pa.compute.replace_with_mask(empty, pa.array(rows), filled)
    return pd.Series(pd.arrays.ArrowStringArray(out), index=like.index, dtype=like.dtype)


def validate(
    frame: pd.DataFrame,
    catalog: Catalog,
    account_currency: str,
    options: ValidationOptions | None = None,
) -> Validated:
    options = options or ValidationOptions()
    today = options.today or datetime.now(UTC).date()
    df = frame
    p = _Problems(df)

    # --- the reward -------------------------------------------------------------------
    utid = _lowcard(_col(df, "utid"), lambda v: str(v).upper())
    email = _col(df, "email").str.lower()
    phone_raw = _col(df, "mobile_number")
    has_phone = phone_raw != ""  # most rows have none: normalise only the others
    phone, sci = _phones(phone_raw, has_phone.to_numpy(), options.default_phone_country)
    street, city, postal = (_col(df, c) for c in ("street_line_1", "city", "postal_code"))
    campaign = _col(df, "campaign")
    if options.default_campaign:
        campaign = campaign.where(campaign != "", options.default_campaign)
    row_key = _col(df, "client_row_key")
    # the repeat key (who, what, campaign) is the slowest step and runs in Arrow, which
    # releases the GIL: start it now, beside the checks, and collect it at the end
    recipient = [email, phone, street.str.lower(), postal.str.lower()]
    recipient += [_col(df, "first_name").str.lower(), _col(df, "last_name").str.lower()]
    background = ThreadPoolExecutor(max_workers=1)
    repeat_keys = background.submit(_repeat_keys, [*recipient, utid, campaign, row_key])
    background.shutdown(wait=False)

    p.flag(utid == "", "utid", "utid is empty: use a reward id from the catalog, e.g. U100001")
    shaped = utid.str.fullmatch(r"U\d+")
    p.flag((utid != "") & ~shaped, "utid", "utid must be U followed by digits, e.g. U100001")
    items = {i.utid.upper(): i for i in catalog.items()}
    u = _Keys(utid)
    item_of = [items.get(v) for v in u.uniques]

    def per_item(get: Callable[[CatalogItem], object], missing: object) -> np.ndarray:
        table = np.array([get(i) if i else missing for i in item_of] or [missing], dtype=object)
        return table[u.codes]

    known = pd.Series(per_item(lambda i: True, False).astype(bool), index=df.index)
    p.flag(
        shaped & ~known, "utid", lambda m: "utid " + utid[m] + " is not in the account's catalog"
    )
    problem_of = per_item(lambda i: rules.item_problem(i, i.utid), None)
    item_problem = pd.Series(problem_of, index=df.index)
    p.flag(known & item_problem.notna(), "utid", item_problem)
    currency = _texts([i.currencyCode if i else "" for i in item_of], u.codes, df.index)
    p.flag(
        known & (currency != account_currency),
        "utid",
        lambda m: "the reward is in " + currency[m] + ", the account in " + account_currency,
    )
    usable = known & item_problem.isna() & (currency == account_currency)

    # --- amount and quantity ----------------------------------------------------------
    amount = _col(df, "amount")
    plain = amount.str.fullmatch(r"\d{1,9}(\.\d{1,2})?")
    p.flag(amount == "", "amount", "amount is empty")
    p.flag(
        (amount != "") & ~plain,
        "amount",
        "amount must be a plain number with at most 2 decimals, e.g. 25 or 25.50 "
        "(no currency sign, thousands separator or exponent)",
    )
    cents = _to_cents(amount.where(plain, "0"))
    p.flag(plain & (cents <= 0), "amount", "amount must be greater than 0")
    c = _Keys(cents)
    check = usable & plain & (cents > 0)
    amount_problem = _by_unique(
        [u, c],
        lambda code, cts: rules.amount_problem(items[code], Decimal(int(cts)) / 100),
        df.index,
        check,
    )
    p.flag(check & amount_problem.found(), "amount", amount_problem.reasons)

    qty_raw = _col(df, "quantity")
    has_qty = (qty_raw != "").to_numpy()  # most files leave it empty: look only at the others
    written = qty_raw[has_qty]
    written_ok = written.str.fullmatch(r"[1-9]\d{0,3}").to_numpy(dtype=bool)
    qty_ok = pd.Series(True, index=df.index)
    qty_ok[has_qty] = written_ok
    p.flag(~qty_ok, "quantity", "quantity must be a whole number from 1")
    counts = np.ones(len(df), dtype=np.int64)
    counts[np.flatnonzero(has_qty)[written_ok]] = _to_int(written[written_ok]).to_numpy()
    quantity = pd.Series(counts, index=df.index)
    qmin = pd.Series(
        per_item(lambda i: i.quantityConstraints.minQuantity if i.quantityConstraints else 1, 1),
        index=df.index,
    ).astype("int64")
    qmax = pd.Series(
        per_item(
            lambda i: i.quantityConstraints.maxQuantity if i.quantityConstraints else 10**6, 10**6
        ),
        index=df.index,
    ).astype("int64")
    p.flag(
        usable & qty_ok & ((quantity < qmin) | (quantity > qmax)),
        "quantity",
        lambda m: (
            "quantity must be between "
            + qmin[m].astype("str")
            + " and "
            + qmax[m].astype("str")
            + " for this reward"
        ),
    )

    # --- delivery method and contact --------------------------------------------------
    method_raw = _col(df, "delivery_method")
    method = _lowcard(method_raw, _method_name)
    p.flag(
        method_raw == "",
        "delivery_method",
        "delivery method is empty: EMAIL, PHONE, ADDRESS, EMBEDDED or NONE",
    )
    p.flag(
        (method_raw != "") & (method == ""),
        "delivery_method",
        lambda m: (
            "unknown delivery method "
            + method_raw[m].str.slice(0, 40)
            + ": use EMAIL, PHONE (sms), ADDRESS (mail), EMBEDDED (link) or NONE"
        ),
    )
    method_problem = _by_unique(
        [u, _Keys(method)],
        lambda code, m: rules.method_problem(items[code], m),
        df.index,
        usable & (method != ""),
    )
    p.flag(method_problem.found(), "delivery_method", method_problem.reasons)

    # rules.EMAIL with \s spelled out, so pyarrow runs it natively (no per-row Python)
    email_bad = ~email.str.fullmatch(r"[^@ \t\r\n]+@[^@ \t\r\n]+\.[^@ \t\r\n]+")
    is_email = method == "EMAIL"
    p.flag(is_email & (email == ""), "email", "EMAIL delivery needs an email address")
    p.flag((email != "") & email_bad, "email", "not a valid email address")

    needs_phone = method.isin(["PHONE", "WHATSAPP"])
    p.flag(needs_phone & (phone_raw == ""), "mobile_number", "PHONE delivery needs a mobile number")
    p.flag(
        (phone_raw != "") & sci,
        "mobile_number",
        "the number was turned into scientific notation by Excel (digits are lost); "
        "format the column as text and type the number again",
    )
    p.flag(
        (phone_raw != "") & ~sci & (phone == ""),
        "mobile_number",
        "not a valid mobile number: use +country code and number, e.g. +14155550100",
    )

    country = _lowcard(_col(df, "country"), lambda v: str(v).upper())
    shipping = _lowcard(
        _col(df, "shipping_method"),
        lambda v: str(v).lower().replace(" ", "").replace("_", "").replace("-", ""),
    )
    is_address = method == "ADDRESS"
    for name, values in (
        ("street_line_1", street),
        ("city", city),
        ("postal_code", postal),
        ("country", country),
    ):
        p.flag(is_address & (values == ""), name, f"ADDRESS delivery needs {name}")
    p.flag(
        (country != "") & ~country.str.fullmatch(r"[A-Z]{2}"),
        "country",
        "country must be a two-letter code, e.g. US or GB",
    )
    p.flag(
        is_address & (shipping == ""),
        "shipping_method",
        "ADDRESS delivery needs a shipping method, e.g. upsground or usps1stclass",
    )
    p.flag(
        (shipping != "") & ~shipping.isin(SHIPPING_METHODS),
        "shipping_method",
        "unknown shipping method; use one of " + ", ".join(sorted(SHIPPING_METHODS)),
    )

    # --- scheduled delivery -----------------------------------------------------------
    when_raw = _col(df, "delivery_date")
    has_date = (when_raw != "").to_numpy()  # most rows are not scheduled: look at the others
    written = when_raw[has_date]
    day = written.str.slice(0, 10)
    shape = day.str.fullmatch(r"\d{4}-\d{2}-\d{2}") & (
        (written.str.len() == 10) | written.str.slice(10, 11).isin([" ", "T"])
    )
    real = pd.to_datetime(day.where(shape, None), format="%Y-%m-%d", errors="coerce").notna()
    date_ok = pd.Series(False, index=df.index)
    date_ok[has_date] = real.to_numpy(dtype=bool)
    when = _scatter(day[real.to_numpy(dtype=bool)], date_ok.to_numpy(), when_raw)  # '' if none
    p.flag(
        pd.Series(has_date, index=df.index) & ~date_ok,
        "delivery_date",
        "delivery date must be a date written YYYY-MM-DD",
    )
    dated = usable & date_ok
    date_problem = _by_unique(
        [u, _Keys(when)],
        lambda code, d: rules.delivery_date_problem(items[code], date.fromisoformat(d), today),
        df.index,
        dated,
    )
    p.flag(dated & date_problem.found(), "delivery_date", date_problem.reasons)

    # --- text that a spreadsheet would execute ---------------------------------------
    for name in TEXT_COLUMNS:
        values = _col(df, name)
        p.flag(
            values.str.startswith("="),
            name,
            "looks like a spreadsheet formula; type the value itself",
        )

    # --- repeats within the file -----------------------------------------------------
    # ... and the amount: duplicates are then found on integers, not strings
    c_codes = np.asarray(pd.factorize(cents)[0], dtype=np.int64)
    key = repeat_keys.result().astype(np.int64) * (int(c_codes.max(initial=0)) + 1) + c_codes
    key_code = pd.Series(key, index=df.index)
    clean = ~p.bad
    repeat = clean & key_code.where(clean).duplicated(keep="first")

    def first_of(mask: pd.Series) -> pd.Series:
        firsts = df.loc[clean, ROW].groupby(key_code[clean]).min()
        return (
            "same recipient, reward, amount and campaign as row "
            + key_code[mask].map(firsts).astype("str")
            + " (give it a client_row_key or another campaign if both are meant)"
        )

    p.flag(repeat, "row", first_of)

    problems = p.table()
    good = ~p.bad
    valid = _keep_rows(
        {
            ROW: df[ROW],
            "utid": utid,
            "reward_name": _texts([i.rewardName if i else "" for i in item_of], u.codes, df.index),
            "currency": currency,
            "amount": _lowcard(cents, lambda c: f"{int(c) // 100}.{int(c) % 100:02d}"),
            "amount_cents": cents,
            "quantity": quantity,
            "delivery_method": method,
            "first_name": _col(df, "first_name"),
            "last_name": _col(df, "last_name"),
            "email": email,
            "mobile_number": phone,
            "street_line_1": street,
            "street_line_2": _col(df, "street_line_2"),
            "city": city,
            "state_or_province": _col(df, "state_or_province"),
            "postal_code": postal,
            "country": country,
            "shipping_method": shipping,
            "delivery_date": when,
            "message": _col(df, "message"),
            "email_subject": _col(df, "email_subject"),
            "campaign": campaign,
            "client_row_key": row_key,
        },
        good.to_numpy(),
    )
    # built after filtering: only valid rows pay for it
    if len(valid):
        # fee per distinct (reward, amount, quantity), mapped back by integer codes
        keys = [_Keys(valid["utid"]), _Keys(valid["amount_cents"]), _Keys(valid["quantity"])]
        combined = np.zeros(len(valid), dtype=np.int64)
        for key in keys:
            combined = combined * max(len(key.uniques), 1) + key.codes
        first, inverse = _distinct(combined)
        fees = []
        for row in first:
            code, cts, qty = (key.uniques[key.codes[row]] for key in keys)
            fees.append(f"{rules.line_cost(items[code], Decimal(int(cts)) / 100, int(qty))[1]:.2f}")
        valid["fee"] = _texts(fees, inverse.ravel(), valid.index)
    else:
        valid["fee"] = pd.Series(dtype="str")
    rejected = df[~good].copy()
    if len(rejected):
        text = problems["column"] + ": " + problems["reason"]
        once = ~problems[ROW].duplicated(keep=False)  # most rows have one problem: no join
        by_row = pd.concat(
            [
                pd.Series(text[once].to_numpy(), index=problems.loc[once, ROW].to_numpy()),
                text[~once].groupby(problems.loc[~once, ROW]).agg("; ".join),
            ]
        )
        rejected["problems"] = rejected[ROW].map(by_row)
    else:
        rejected["problems"] = pd.Series(dtype="str")
    return Validated(
        valid=valid,
        rejected=rejected.reset_index(drop=True),
        problems=problems,
        rows_in=len(df),
    )
