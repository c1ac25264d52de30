"""What a valid recipient row is: one declaration, checked lazily over the whole DataFrame.

Every failing (row, column, reason) is collected; a bad row never stops the good ones.

How it stays fast on a million rows: columns with few distinct values (reward, amount,
method, country, shipping, date, quantity) are dictionary-encoded once and every check on
them runs on the distinct values, then reaches the rows through the codes; columns with a
value per row (email, phone) are checked by Arrow kernels, which release the GIL; masks are
numpy arrays. Tango's item rules (amount, method, schedule, fees) come from
:mod:`raas.rules` and are applied once per distinct (item, value) pair.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from raas import rules
from raas._models import Catalog, CatalogItem

from . import columnar, text_checks
from .columnar import (
    DENSE,
    TEXT,
    Coded,
    Problems,
    RowKey,
    arrow,
    as_series,
    empty,
    lower,
    matches,
    no_text,
    per_pair,
    repeats,
    to_numpy,
)
from .columns import AT_WIRE, COLUMNS, ROW, TEXT_SENT, Kind


@dataclass(frozen=True)
class TextField:
    """A column of free text sent to Tango: its field's length limit and what else the
    field takes. One policy for all of them (and the email): text a spreadsheet would run as
    a formula is rejected, as are control characters, bidirectional overrides and garbled
    encodings; structured columns (amount, phone, country...) have their own shape checks,
    so "+14155550100" and "-5" are judged there."""

    limit: int
    line_breaks: bool = False  # a message may have several lines
    name: bool = False  # Tango refuses < > / in names; a lost letter there is warned about


TEXT_FIELDS = {
    c.name: TextField(c.limit, line_breaks=c.kind is Kind.LINES, name=c.kind is Kind.NAME)
    for c in TEXT_SENT
    if c.limit is not None
}
FORMULA = "starts like a spreadsheet formula (= + - @); reword it so it starts otherwise"
CONTROL = "contains a control character or a direction override; type the text again"
GARBLED = "looks garbled ('Ã©' where 'é' was: UTF-8 read as another encoding); fix the text"
LOST = "'?' or '\ufffd' where a letter was: an export lost letters; check the name"
PROBLEM_COLUMNS = [ROW, "column", "reason"]
# what validation adds beside a column (from the catalog; the amount in cents)
ADDED = {"utid": ("reward_name", "currency"), "amount": ("amount_cents",)}
VALID_COLUMNS = (ROW, *(n for c in COLUMNS for n in (c.name, *ADDED.get(c.name, ()))), "fee")
E164 = r"^\+[1-9]\d{6,14}$"


@dataclass(frozen=True)
class ValidationOptions:
    default_phone_country: str | None = "US"
    default_campaign: str | None = None
    today: date | None = None


@dataclass
class Validated:
    """``valid``: normalised rows ready to plan. ``problems``: one line per failing check.
    ``rejected``: the original cells of each failing row, its row number and its problems.
    ``warnings``: rows that go on but should be looked at (a name that lost letters in an
    export), in the same form as ``problems``."""

    valid: pd.DataFrame
    rejected: pd.DataFrame
    problems: pd.DataFrame
    rows_in: int
    warnings: pd.DataFrame = field(default_factory=lambda: Problems(np.zeros(0, int)).table())


# --- values ------------------------------------------------------------------------------------


def _cents(amounts: Coded) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct amount: whether it is a plain decimal, and its integer cents (0 if not)."""
    plain = matches(amounts.uniques, r"^\d{1,9}(\.\d{1,2})?$")
    zero = pa.scalar("0", amounts.uniques.type)
    number = pc.cast(pc.if_else(pa.array(plain), amounts.uniques, zero), pa.float64())
    return plain, np.round(to_numpy(number) * 100).astype(np.int64)


def _shipping_name(value: str) -> str:
    return value.lower().replace(" ", "").replace("_", "").replace("-", "")


def _schedule_day(value: str) -> str:
    """A written delivery date as YYYY-MM-DD ('' if it is not a real date so written)."""
    day = value[:10]
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day, re.ASCII):
        return ""
    if len(value) != 10 and value[10:11] not in (" ", "T"):
        return ""
    return day if pd.notna(pd.to_datetime(day, format="%Y-%m-%d", errors="coerce")) else ""


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


def _phones(raw: pa.ChunkedArray, default_country: str | None) -> tuple[pa.Array, np.ndarray]:
    """Each row's number in E.164 ('' when none or invalid), and whether Excel turned it
    into scientific notation. Numbers already in E.164 (most) are taken as they are; only
    the others go through :func:`normalise_phone`."""
    has = ~empty(raw)
    at = np.flatnonzero(has)
    sci = np.zeros(len(raw), dtype=bool)
    out = pc.fill_null(pa.nulls(len(raw), TEXT), "")
    if not len(at):
        return out, sci
    numbers = raw.take(pa.array(at)).combine_chunks()
    ready = matches(numbers, E164)
    if not ready.all():
        others = numbers.filter(pa.array(~ready))
        sci[at[~ready]] = matches(others, r"\d[eE]\+?\d")
        fixed = pa.array(normalise_phone(as_series(others), default_country).array)
        numbers = pc.replace_with_mask(numbers, pa.array(~ready), fixed.cast(TEXT))
    return pc.replace_with_mask(out, pa.array(has), numbers), sci


# --- free text ---------------------------------------------------------------------------------


def _text_problems(
    df: pd.DataFrame, email: Future[pa.ChunkedArray]
) -> tuple[list[tuple[np.ndarray, str, str]], list[tuple[np.ndarray, str, str]]]:
    """(problems, warnings) as (rows, column, reason) for the text fields and the email: one
    policy for all of them."""
    found: list[tuple[np.ndarray, str, str]] = []
    warned: list[tuple[np.ndarray, str, str]] = []
    for name, field_ in TEXT_FIELDS.items():
        if name not in df:  # nothing to send
            continue
        values = arrow(df, name)
        screen = text_checks.Screen(values)
        found += [
            (text_checks.formula_like(screen), name, FORMULA),
            (text_checks.controls(screen, field_.line_breaks), name, CONTROL),
            (text_checks.garbled(screen), name, GARBLED),
            (
                text_checks.too_long(values, field_.limit),
                name,
                f"longer than {field_.limit} characters",
            ),
        ]
        if field_.name:
            forbidden = text_checks.containing(screen, rules.NAME_FORBIDDEN)
            found.append((forbidden, name, "a name cannot contain < > or /"))
            warned.append((text_checks.lost_letters(screen), name, LOST))
    found.append((text_checks.formula_like(text_checks.Screen(email.result())), "email", FORMULA))
    return found, warned


# --- the declaration ---------------------------------------------------------------------------


def validate(
    frame: pd.DataFrame,
    catalog: Catalog,
    account_currency: str,
    options: ValidationOptions | None = None,
) -> Validated:
    options = options or ValidationOptions()
    today = options.today or datetime.now(UTC).date()
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow and polars run without the GIL
        return _validate(frame, catalog, account_currency, options, today, pool)


def _validate(
    df: pd.DataFrame,
    catalog: Catalog,
    account_currency: str,
    options: ValidationOptions,
    today: date,
    pool: ThreadPoolExecutor,
) -> Validated:
    p = Problems(df[ROW].to_numpy())

    # The column work (encoding, lower-casing, regexes, the repeat hash) is queued on the pool
    # in the order it is needed; the checks below run here and wait only for what they use.
    # A task may wait for one queued before it, never after: two workers cannot deadlock.
    def encode(*names: str) -> None:
        coded.update({n: pool.submit(lambda n: Coded(arrow(df, n)), n) for n in names})

    coded: dict[str, Future[Coded]] = {}
    encode("utid", "amount")
    email_f = pool.submit(lambda: lower(arrow(df, "email")))
    email_ok_f = pool.submit(lambda: text_checks.email_problems(email_f.result()))
    encode("quantity", "delivery_method")
    phone_raw = arrow(df, "mobile_number")
    phones_f = pool.submit(_phones, phone_raw, options.default_phone_country)
    street, city, postal = (arrow(df, c) for c in ("street_line_1", "city", "postal_code"))
    first_name, last_name = arrow(df, "first_name"), arrow(df, "last_name")
    campaign = arrow(df, "campaign")
    if options.default_campaign:
        default = pa.scalar(options.default_campaign, TEXT)
        campaign = pc.if_else(empty(campaign), default, campaign)
    row_key = arrow(df, "client_row_key")

    def repeat_key() -> tuple[np.ndarray, RowKey]:
        """(recipient, reward, campaign, row key, amount in cents: "10" is "10.00")."""
        u, a = coded["utid"].result(), coded["amount"].result()
        same: dict[str, int] = {}  # "u100001" and "U100001" are one reward
        upper = pc.utf8_upper(u.uniques).to_pylist()
        reward = np.array([same.setdefault(v, len(same)) for v in upper] or [0])[u.codes]
        texts = [email_f.result(), phones_f.result()[0], street, postal, first_name, last_name]
        key = RowKey(
            texts=[*texts, campaign, row_key],
            caseless=[False, False, True, True, True, True, False, False],
            numbers=[reward, a.rows(_cents(a)[1])],
        )
        return columnar.shared_hashes(key, len(df)), key

    shared_f = pool.submit(repeat_key)
    encode("country", "shipping_method", "delivery_date")
    texts_f = pool.submit(_text_problems, df, email_f)

    # --- the reward -------------------------------------------------------------------
    u = coded["utid"].result()
    utid = pc.utf8_upper(u.uniques)
    utid_of = utid.to_pylist()
    items = {i.utid.upper(): i for i in catalog.items()}
    item_of = [items.get(v) for v in utid_of]
    empty_u = empty(utid)
    shaped_u = matches(utid, r"^U\d+$")
    known_u = np.array([i is not None for i in item_of], dtype=bool)
    problem_u = [rules.item_problem(i, i.utid) if i else None for i in item_of]
    currency_of = [i.currencyCode if i else "" for i in item_of]
    foreign_u = known_u & np.array([c != account_currency for c in currency_of], dtype=bool)
    usable_u = known_u & np.array([x is None for x in problem_u], dtype=bool) & ~foreign_u
    p.flag(u.rows(empty_u), "utid", "utid is empty: use a reward id from the catalog, e.g. U100001")
    p.flag(u.rows(~empty_u & ~shaped_u), "utid", "utid must be U followed by digits, e.g. U100001")
    p.flag(
        u.rows(shaped_u & ~known_u),
        "utid",
        u.reasons([f"utid {v} is not in the account's catalog" for v in utid_of]),
    )
    p.flag(
        u.rows(np.array([x is not None for x in problem_u] or [False])),
        "utid",
        u.reasons(problem_u),
    )
    p.flag(
        u.rows(foreign_u),
        "utid",
        u.reasons(
            [f"the reward is in {c}, the account in {account_currency}" for c in currency_of]
        ),
    )
    usable = u.rows(usable_u)

    # --- amount and quantity ----------------------------------------------------------
    a = coded["amount"].result()
    plain_a, cents_a = _cents(a)
    cents = a.rows(cents_a)
    empty_a = empty(a.uniques)
    p.flag(a.rows(empty_a), "amount", "amount is empty")
    p.flag(
        a.rows(~empty_a & ~plain_a),
        "amount",
        "amount must be a plain number with at most 2 decimals, e.g. 25 or 25.50 "
        "(no currency sign, thousands separator or exponent)",
    )
    p.flag(a.rows(plain_a & (cents_a <= 0)), "amount", "amount must be greater than 0")
    amount_problem = per_pair(
        u,
        a,
        usable & a.rows(plain_a & (cents_a > 0)),
        lambda i, j: rules.amount_problem(item_of[i], Decimal(int(cents_a[j])) / 100),
    )
    p.flag(amount_problem.found, "amount", amount_problem.reasons)

    q = coded["quantity"].result()
    written_q = ~empty(q.uniques)  # most files leave it empty
    ok_q = ~written_q | matches(q.uniques, r"^[1-9]\d{0,3}$")
    count_q = np.array(
        [int(v) if w and ok else 1 for v, w, ok in zip(q.values, written_q, ok_q, strict=True)],
        dtype=np.int64,
    )
    p.flag(q.rows(~ok_q), "quantity", "quantity must be a whole number from 1")
    quantity = q.rows(count_q) if len(q) else np.ones(len(df), dtype=np.int64)

    def quantity_problem(i: int, j: int) -> str | None:
        limits = item_of[i].quantityConstraints  # type: ignore[union-attr]
        low, high = (limits.minQuantity, limits.maxQuantity) if limits else (1, 10**6)
        if low <= count_q[j] <= high:
            return None
        return f"quantity must be between {low} and {high} for this reward"

    quantity_limits = per_pair(u, q, usable & q.rows(ok_q), quantity_problem)
    p.flag(quantity_limits.found, "quantity", quantity_limits.reasons)

    # --- delivery method and contact --------------------------------------------------
    m = coded["delivery_method"].result()
    method_of = [rules.method_named(v) or "" for v in m.values]
    method_u = np.array(method_of or [""], dtype=object)

    def needing(path: str) -> np.ndarray:
        """Rows whose method needs the wire field ``path`` (raas.rules.METHODS)."""
        return m.rows(np.isin(method_u, rules.methods_needing(path)))

    empty_m = np.array([v == "" for v in m.values], dtype=bool)
    unknown_m = ~empty_m & np.array([not x for x in method_of], dtype=bool)
    p.flag(
        m.rows(empty_m),
        "delivery_method",
        f"delivery method is empty: {rules.methods_listed()}",
    )
    p.flag(
        m.rows(unknown_m),
        "delivery_method",
        m.reasons(
            [
                f"unknown delivery method {v[:40]}: use {rules.methods_listed(hints=True)}"
                for v in m.values
            ]
        ),
    )
    method_problem = per_pair(
        u,
        m,
        usable & m.rows(method_u != ""),
        lambda i, j: rules.method_problem(item_of[i], method_of[j]),
    )
    p.flag(method_problem.found, "delivery_method", method_problem.reasons)

    email = email_f.result()
    email_empty = empty(email)
    p.flag(
        needing("recipient.email") & email_empty, "email", "EMAIL delivery needs an email address"
    )
    for reason, mask in email_ok_f.result()[1].items():
        p.flag(mask, "email", reason)

    phone, sci = phones_f.result()

    phone_none = empty(phone_raw)
    p.flag(
        needing("recipient.mobileNumber") & phone_none,
        "mobile_number",
        "PHONE delivery needs a mobile number",
    )
    p.flag(
        sci,
        "mobile_number",
        "the number was turned into scientific notation by Excel (digits are lost); "
        "format the column as text and type the number again",
    )
    p.flag(
        ~phone_none & ~sci & empty(phone),
        "mobile_number",
        "not a valid mobile number: use +country code and number, e.g. +14155550100",
    )

    country = coded["country"].result()
    country_of = pc.utf8_upper(country.uniques)
    shipping = coded["shipping_method"].result()
    shipping_of = [_shipping_name(v) for v in shipping.values]
    for path in rules.POSTAL_ADDRESS.paths:
        name = AT_WIRE[path].name
        methods = "/".join(rules.methods_needing(path))
        p.flag(needing(path) & empty(arrow(df, name)), name, f"{methods} delivery needs {name}")
    p.flag(
        country.rows(~empty(country_of) & ~matches(country_of, r"^[A-Z]{2}$")),
        "country",
        "country must be a two-letter code, e.g. US or GB",
    )
    shipping_none = np.array([s == "" for s in shipping_of] or [True], dtype=bool)
    p.flag(
        needing("shippingMethod") & shipping.rows(shipping_none),
        "shipping_method",
        "ADDRESS delivery needs a shipping method, e.g. upsground or usps1stclass",
    )
    p.flag(
        shipping.rows(
            np.array([s != "" and s not in rules.SHIPPING_METHODS for s in shipping_of] or [False])
        ),
        "shipping_method",
        "unknown shipping method; use one of " + ", ".join(sorted(rules.SHIPPING_METHODS)),
    )

    # --- scheduled delivery -----------------------------------------------------------
    d = coded["delivery_date"].result()
    day_of = [_schedule_day(v) for v in d.values]
    dated_d = np.array([x != "" for x in day_of] or [False], dtype=bool)
    p.flag(
        d.rows(np.array([v != "" for v in d.values] or [False], dtype=bool) & ~dated_d),
        "delivery_date",
        "delivery date must be a date written YYYY-MM-DD",
    )
    date_problem = per_pair(
        u,
        d,
        usable & d.rows(dated_d),
        lambda i, j: rules.delivery_date_problem(item_of[i], date.fromisoformat(day_of[j]), today),
    )
    p.flag(date_problem.found, "delivery_date", date_problem.reasons)

    # --- text sent to Tango: formulas, controls, lengths ------------------------------
    text_problems, text_warnings = texts_f.result()
    for mask, name, reason in text_problems:
        p.flag(mask, name, reason)
    physical = m.rows(np.isin(method_u, rules.PHYSICAL_METHODS))
    for name in (c.name for c in COLUMNS if c.kind is Kind.NAME):
        p.flag(
            physical & text_checks.too_long(arrow(df, name), rules.PHYSICAL_NAME_MAX_CHARS),
            name,
            f"at most {rules.PHYSICAL_NAME_MAX_CHARS} characters for a mailed card",
        )
    warned = Problems(p.row_numbers)
    for mask, name, reason in text_warnings:
        warned.flag(mask, name, reason)

    # --- what goes on ----------------------------------------------------------------------
    # The valid columns are cut on the pool while the repeat check finishes; repeats (rare)
    # are then dropped from them.
    keep = ~p.bad
    amount_of = [f"{c // 100}.{c % 100:02d}" for c in cents_a.tolist()]
    by_value: dict[str, tuple[Coded, Sequence[str]]] = {
        "utid": (u, utid_of),
        "reward_name": (u, [i.rewardName if i else "" for i in item_of]),
        "currency": (u, currency_of),
        "amount": (a, amount_of),
        "delivery_method": (m, method_of),
        "country": (country, country_of.to_pylist()),
        "shipping_method": (shipping, shipping_of),
        "delivery_date": (d, day_of),
    }
    # every other column goes on as a text per row, as read above (the email lowered, the
    # phone in E.164, the campaign defaulted) or else as it was typed
    normalised = {"first_name": first_name, "last_name": last_name, "email": email}
    normalised |= {"mobile_number": phone, "street_line_1": street, "city": city}
    normalised |= {"postal_code": postal, "campaign": campaign, "client_row_key": row_key}
    per_row = {
        c.name: normalised[c.name] if c.name in normalised else arrow(df, c.name)
        for c in COLUMNS
        if c.name not in by_value and c.kind is not Kind.INT
    }
    kept = pa.array(keep)
    cut = {n: pool.submit(c.texts, table, keep) for n, (c, table) in by_value.items()}
    cut |= {n: pool.submit(pc.filter, v, kept) for n, v in per_row.items()}
    fees = pool.submit(_fees, a, q, u, item_of, cents_a, count_q, keep)

    # --- repeats within the file -----------------------------------------------------
    shared, repeat = shared_f.result()
    again, first = repeats(np.flatnonzero(shared & keep), repeat)
    if len(again):
        mask = np.zeros(len(df), dtype=bool)
        mask[again] = True
        first_row = dict(zip(again, p.row_numbers[first], strict=True))
        p.flag(
            mask,
            "row",
            lambda at: [
                f"same recipient, reward, amount and campaign as row {first_row[i]} "
                "(give it a client_row_key or another campaign if both are meant)"
                for i in at
            ],
        )
    problems = p.table()

    numbers = {ROW: p.row_numbers[keep], "amount_cents": cents[keep], "quantity": quantity[keep]}
    valid = pd.DataFrame(
        {
            name: numbers[name] if name in numbers else as_series(cut[name].result())
            for name in VALID_COLUMNS
            if name != "fee"
        }
        | {"fee": fees.result()},
        copy=False,
    )
    if len(again):  # drop the repeats from what was cut before they were known
        valid = valid[~p.bad[keep]].reset_index(drop=True)

    bad = np.flatnonzero(p.bad)
    # every row bad (a wrong file): the frame itself, not a copy of it
    rejected = (df if len(bad) == len(df) else df.take(bad)).reset_index(drop=True)
    if len(rejected):
        rejected["problems"] = as_series(p.joined(rejected[ROW].to_numpy()))
    else:
        rejected["problems"] = no_text()
    return Validated(
        valid=valid,
        rejected=rejected,
        problems=problems,
        rows_in=len(df),
        warnings=warned.table(),
    )


def _fees(
    a: Coded,
    q: Coded,
    u: Coded,
    item_of: list[CatalogItem | None],
    cents_a: np.ndarray,
    count_q: np.ndarray,
    keep: np.ndarray,
) -> pd.Series:
    """The fee of each valid row, computed once per distinct (reward, amount, quantity)."""
    if not keep.any():
        return no_text()
    sizes = (max(len(u), 1), max(len(a), 1), max(len(q), 1))
    key = (u.codes[keep].astype(np.int64) * sizes[1] + a.codes[keep]) * sizes[2]
    if len(q):
        key += q.codes[keep]
    if sizes[0] * sizes[1] * sizes[2] <= DENSE:  # few combinations: numbered as they are
        seen = np.zeros(sizes[0] * sizes[1] * sizes[2], dtype=bool)
        seen[key] = True
        combos, codes = np.flatnonzero(seen), key
        slots = combos
    else:
        codes, combos = pd.factorize(key)
        slots = np.arange(len(combos))
    fees = [""] * (len(seen) if slots is combos else len(combos))
    for slot, joint in zip(slots.tolist(), np.asarray(combos).tolist(), strict=True):
        (i, j), k = divmod(joint // sizes[2], sizes[1]), joint % sizes[2]
        item = item_of[i]
        assert item is not None  # valid rows have a known reward
        qty = int(count_q[k]) if len(q) else 1
        fees[slot] = f"{rules.line_cost(item, Decimal(int(cents_a[j])) / 100, qty)[1]:.2f}"
    return as_series(pc.take(pa.array(fees, TEXT), pa.array(codes)))
