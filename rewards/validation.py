"""What a valid recipient row is: :data:`CHECKS`, short named checks in the order their
problems are listed, run lazily over the whole DataFrame.

Every failing (row, column, reason) is collected; a bad row never stops the good ones. The
checks share a column store (:class:`_Store`): each reads the columns it needs and what
earlier checks found (the reward's catalog item, the row's delivery method).

How it stays fast on a million rows: columns with few distinct values (reward, amount,
method, country, shipping, date, quantity) are dictionary-encoded once and every check on
them runs on the distinct values, then reaches the rows through the codes; columns with a
value per row (email, phone) are checked by Arrow kernels, which release the GIL; masks are
numpy arrays. Tango's item rules (amount, method, schedule, fees) come from
:mod:`raas.rules` and are applied once per distinct (item, value) pair. That machinery is
:mod:`rewards.columnar`'s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from raas import rules
from raas._models import Catalog, CatalogItem

from . import amounts as amounts_read
from . import arrow_text, columnar, phones, text_checks
from . import currency as currency_marks
from .columnar import (
    TEXT,
    Coded,
    Problems,
    Reason,
    RowKey,
    arrow,
    as_series,
    empty,
    lower,
    matches,
    no_text,
    per_pair,
    per_pairs,
    repeats,
    to_numpy,
)
from .columns import AT_WIRE, BY_NAME, COLUMNS, REPEAT, ROW, TEXT_SENT, Kind, normalise_header
from .identity import REACH
from .phones import normalise as normalise_phone


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


@dataclass(frozen=True)
class ValidationOptions:
    default_phone_country: str | None = phones.DEFAULT_COUNTRY
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


def _amount_verdicts(rule: rules.AmountRule, cents: np.ndarray) -> np.ndarray:
    """:func:`raas.rules.amount_problem` for many positive amounts (in cents) of one item at once: per
    amount, the index in ``rule.said`` of what is wrong, or -1."""
    out = np.full(len(cents), -1, dtype=np.int8)

    def at(value: Decimal | None) -> int | None:
        return None if value is None else int(value * 100)

    if rule.fixed is not None:
        out[cents != at(rule.fixed)] = rules.NOT_FACE
        return out
    high, low = at(rule.high), at(rule.low)
    if rule.whole:
        out[cents % 100 != 0] = rules.NOT_WHOLE
    if high is not None:  # judged before "whole", as amount_problem does: written after it
        out[cents > high] = rules.ABOVE
    if low is not None:
        out[cents < low] = rules.BELOW
    return out


def _shipping_name(value: str) -> str:
    return value.lower().replace(" ", "").replace("_", "").replace("-", "")


MIDNIGHT = r"0?0:00(:00(\.0+)?)?Z?"  # a date cell read with its time: no time meant


def time_not_sent(time: str | None, day: str) -> str:
    return f"the time ({time}) is not sent: Tango delivers on the day, {day}"


def unsent_time(value: str) -> str | None:
    """The time of day written after a date ("09:30"), which Tango's schedule by day does
    not take; None when there is none, or it is a date cell's midnight."""
    time = value[10:].strip().lstrip("T")
    if not time or re.fullmatch(MIDNIGHT, time):
        return None
    return time[:5] if re.fullmatch(r"\d\d:\d\d(:\d\d(\.\d+)?)?Z?", time) else time[:8]


def written_day(value: str) -> str:
    """A written delivery date as YYYY-MM-DD ('' if it is not a real date so written)."""
    day = value[:10]
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day, re.ASCII):
        return ""
    if len(value) != 10 and value[10:11] not in (" ", "T"):
        return ""
    return day if pd.notna(pd.to_datetime(day, format="%Y-%m-%d", errors="coerce")) else ""


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
    ready = matches(numbers, rules.E164.pattern)
    if not ready.all():
        others = numbers.filter(pa.array(~ready))
        sci[at[~ready]] = matches(others, r"\d[eE]\+?\d")
        fixed = pa.array(normalise_phone(as_series(others), default_country).array)
        numbers = pc.replace_with_mask(numbers, pa.array(~ready), fixed.cast(TEXT))
    # a number its country does not have is no number (never someone else's, rewritten)
    numbers = pc.if_else(pa.array(phones.in_plan(numbers)), numbers, pa.scalar("", TEXT))
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


_Flag = tuple[np.ndarray, str, str]  # rows, column, reason


# --- the column store --------------------------------------------------------------------------


@dataclass
class _Store:
    """What the checks read and leave for one another: the file's columns (as typed,
    normalised, or dictionary-encoded; some still being made on the pool), what each check
    found out, and the problems so far. A check reads what earlier checks left (the field's
    comment names the check that sets it)."""

    df: pd.DataFrame
    account_currency: str
    amount_header: str  # as the file wrote it ("Reward Amount (USD)"); "" if not known
    options: ValidationOptions
    today: date
    items: dict[str, CatalogItem]  # the catalog by upper-case utid
    pool: ThreadPoolExecutor
    problems: Problems
    warned: Problems
    coded: dict[str, Future[Coded]] = field(default_factory=dict)
    # per row, as the checks made them (the email lowered, the phone in E.164, the campaign
    # defaulted) or as typed: what goes on for columns not in by_value
    texts: dict[str, pa.ChunkedArray] = field(default_factory=dict)
    # per distinct value of a coded column, what goes on (the reward id upper-cased...)
    by_value: dict[str, tuple[Coded, Sequence[str] | pa.Array]] = field(default_factory=dict)
    failed_formulas: dict[str, np.ndarray] = field(default_factory=dict)  # column: its #N/A

    email_f: Future[pa.ChunkedArray] = field(init=False)  # _queue
    amounts_f: Future[amounts_read.Amounts] = field(init=False)  # _queue
    email_ok_f: Future[tuple[np.ndarray, dict[str, np.ndarray]]] = field(init=False)  # _queue
    phones_f: Future[tuple[pa.Array, np.ndarray]] = field(init=False)  # _queue
    texts_f: Future[tuple[list[_Flag], list[_Flag]]] = field(init=False)  # _queue
    keys_f: Future[_Keys] = field(init=False)  # _queue
    u: Coded = field(init=False)  # _reward
    item_of: list[CatalogItem | None] = field(init=False)  # _reward: per distinct utid
    usable: np.ndarray = field(init=False)  # _reward: rows whose reward takes further checks
    a: Coded = field(init=False)  # _amount
    cents_a: np.ndarray = field(init=False)  # _amount: per distinct amount, 0 if not one
    q: Coded = field(init=False)  # _quantity
    count_q: np.ndarray = field(init=False)  # _quantity: per distinct quantity, 1 if none
    m: Coded = field(init=False)  # _method
    method_u: np.ndarray = field(init=False)  # _method: per distinct method, '' if none

    def column(self, name: str) -> Coded:
        return self.coded[name].result()

    def flag(self, mask: np.ndarray, column: str, reason: Reason) -> None:
        self.problems.flag(mask, column, reason)

    def flag_missing(self, path: str, missing: np.ndarray, column: str, what: str) -> None:
        """Rows whose method needs the wire field ``path`` (raas.rules.METHODS) and that are
        ``missing`` it, said in their own method's name ("WHATSAPP delivery needs ...")."""
        needs = np.isin(self.method_u, rules.methods_needing(path))
        if not needs.any():
            return
        said = self.m.reasons([f"{m} delivery needs {what}" for m in self.method_u.tolist()])
        self.flag(self.m.rows(needs) & missing, column, said)


def _queue(s: _Store) -> None:
    """Queue the column work (encoding, lower-casing, regexes, the repeat hash) on the pool
    in the order the checks need it; the checks wait only for what they use. A task may wait
    for one queued before it, never after: two workers cannot deadlock."""
    df, pool = s.df, s.pool

    def encode(*names: str) -> None:
        s.coded.update({n: pool.submit(lambda n: Coded(arrow(df, n)), n) for n in names})

    encode("utid", "amount")
    s.amounts_f = pool.submit(
        lambda: amounts_read.read(s.column("amount").uniques, s.account_currency)
    )
    s.email_f = pool.submit(lambda: lower(arrow(df, "email")))
    s.email_ok_f = pool.submit(lambda: text_checks.email_problems(s.email_f.result()))
    encode("quantity", "delivery_method")
    s.texts["mobile_number"] = arrow(df, "mobile_number")  # until the phone check
    s.phones_f = pool.submit(_phones, s.texts["mobile_number"], s.options.default_phone_country)
    for c in COLUMNS:
        if c.kind in (Kind.NAME, Kind.ADDRESS, Kind.TEXT, Kind.LINES):
            s.texts[c.name] = arrow(df, c.name)
    if s.options.default_campaign:
        default = pa.scalar(s.options.default_campaign, TEXT)
        campaign = s.texts["campaign"]
        s.texts["campaign"] = pc.if_else(empty(campaign), default, campaign)
    s.keys_f = pool.submit(_repeat_key, s)
    encode("country", "shipping_method", "delivery_date")
    s.texts_f = pool.submit(_text_problems, df, s.email_f)


@dataclass(frozen=True)
class _Keys:
    """The repeat key and the same key without the amount (a recipient's reward), each with
    the rows whose hash another row's shares (the candidates: values decide)."""

    key: RowKey
    shared: np.ndarray
    reward: RowKey  # without the amount
    reward_shared: np.ndarray
    cents: np.ndarray


def _repeat_key(s: _Store) -> _Keys:
    """The repeat key (rewards.columns: ``repeat``): the reward's code ("u100001" is
    "U100001"), the amount in cents ("10" is "10.00"), the email and phone as normalised,
    names and address lines without case, other text as typed. The rows are hashed once,
    without the amount; the amount is mixed in after."""
    u, a = s.column("utid"), s.column("amount")
    same: dict[str, int] = {}
    upper = pc.utf8_upper(u.uniques).to_pylist()
    reward = u.rows(np.array([same.setdefault(v, len(same)) for v in upper] or [0]))
    made = {Kind.EMAIL: s.email_f.result(), Kind.PHONE: s.phones_f.result()[0]}
    texts = [c for c in REPEAT if c.kind not in (Kind.CODE, Kind.MONEY)]
    coded = [c.name for c in REPEAT if c not in texts]
    assert coded == ["utid", "amount"], "the key's numbers are the reward's code and the cents"
    values = [made[c.kind] if c.kind in made else s.texts[c.name] for c in texts]
    # as across files (rewards.identity.recipient_keys): a row with a contact is the same
    # recipient whatever the name; without one (a link), the name is all that tells apart
    reach = [~empty(v) for c, v in zip(texts, values, strict=True) if c.kind in REACH]
    reachable = pa.array(np.logical_or.reduce(reach)) if reach else None
    if reachable is not None:
        values = [
            pc.if_else(reachable, pa.scalar("", v.type), v) if c.kind is Kind.NAME else v
            for c, v in zip(texts, values, strict=True)
        ]
    caseless = [c.kind in (Kind.NAME, Kind.ADDRESS) for c in texts]
    cents = a.rows(s.amounts_f.result().cents)
    loose = RowKey(texts=values, caseless=caseless, numbers=[reward])
    hashes = columnar.row_hashes(loose, len(s.df))
    return _Keys(
        key=RowKey(texts=values, caseless=caseless, numbers=[reward, cents]),
        shared=columnar.shared(columnar.with_number(hashes, cents)),
        reward=loose,
        reward_shared=columnar.shared(hashes),
        cents=cents,
    )


# --- the checks, in the order their problems are listed ----------------------------------------


# what a reward is (its identity: rewards.identity) and the codes: an apostrophe first is a
# spreadsheet's mark for text, never part of the value ("'q4" would be another campaign, so a
# second reward); only the message and the subject, prose, may start with one
TYPED = tuple(c.name for c in COLUMNS if c.identity is not None or c.kind is Kind.CODE)
APOSTROPHE = (
    "starts with an apostrophe ('), the mark a spreadsheet keeps before text typed into a "
    "cell: remove it"
)


# what a spreadsheet shows in a cell whose formula failed (a VLOOKUP that found nothing):
# read from a workbook (rewards.xlsx_formats.with_errors) or exported as text in a CSV
FORMULA_ERROR = (
    r"^#(NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|GETTING_DATA|SPILL!|CALC!|FIELD!|BLOCKED!|"
    r"UNKNOWN!|CONNECT!|BUSY!)$"
)
FAILED_FORMULA = (
    "shows a formula's error (#N/A, #DIV/0!, #VALUE!...): fix the formula in the spreadsheet, "
    "or type the value"
)


def _formula_errors(s: _Store) -> None:
    """No cell the row sends shows a formula's error: "#N/A" is not a reward, an amount or
    a message (read empty, it was "utid is empty" for a cell Excel shows as #N/A)."""
    for c in COLUMNS:
        if c.name in s.df and c.kind is not Kind.INT:
            values = arrow(s.df, c.name)
            if arrow_text.holds(values, ord("#")):
                failed = matches(values, FORMULA_ERROR)
                s.flag(failed, c.name, f"{c.name} {FAILED_FORMULA}")
                if failed.any():
                    s.failed_formulas[c.name] = failed


# a note an office writes on a row it means to leave out ("DO NOT SEND", "don't send yet")
NOT_TO_SEND = r"\b(do\s+not|don'?t|never)\s+send\b|\bnot\s+to\s+be\s+sent\b"


def _marked_not_to_send(s: _Store) -> None:
    """A row whose own column (a status, a note) says not to send it is not sent: it was,
    as any other ("DO NOT SEND" in a Status column)."""
    for name in s.df.columns:
        if name == ROW or name in BY_NAME:
            continue
        values = arrow(s.df, name)
        said = to_numpy(pc.match_substring_regex(values, NOT_TO_SEND, ignore_case=True))
        s.flag(
            said,
            "row",
            f"its {name!r} says not to send it: nothing is sent for it; clear that cell if it "
            "should go",
        )


def _failed_formulas_alone(s: _Store) -> None:
    """A cell showing a formula's error says so alone: "#N/A" is not also "utid must be U
    followed by digits"."""
    for name, failed in s.failed_formulas.items():
        s.problems.only(failed, name, f"{name} {FAILED_FORMULA}")


def _apostrophe(s: _Store) -> None:
    """No value of :data:`TYPED` starts with an apostrophe: "'b1@example.com" is another
    address than "b1@example.com" (a quote is allowed there), so it is never sent."""
    for name in TYPED:  # on the cells as read: the encoded columns may not be ready yet
        if name in s.df:
            s.flag(to_numpy(pc.starts_with(arrow(s.df, name), "'")), name, f"{name} {APOSTROPHE}")


def _reward(s: _Store) -> None:
    """The reward id: written, shaped, in the catalog, active, in the account's currency."""
    u = s.u = s.column("utid")
    utid = pc.utf8_upper(u.uniques)
    utid_of = utid.to_pylist()
    item_of = s.item_of = [s.items.get(v) for v in utid_of]
    empty_u = empty(utid)
    shaped_u = matches(utid, r"^U\d+$")
    known_u = np.array([i is not None for i in item_of], dtype=bool)
    problem_u = [rules.item_problem(i, i.utid) if i else None for i in item_of]
    currency_of = [i.currencyCode if i else "" for i in item_of]
    foreign_u = known_u & np.array([c != s.account_currency for c in currency_of], dtype=bool)
    usable_u = known_u & np.array([x is None for x in problem_u], dtype=bool) & ~foreign_u
    s.flag(u.rows(empty_u), "utid", "utid is empty: use a reward id from the catalog, e.g. U100001")
    s.flag(u.rows(~empty_u & ~shaped_u), "utid", "utid must be U followed by digits, e.g. U100001")
    s.flag(
        u.rows(shaped_u & ~known_u),
        "utid",
        u.reasons([f"utid {v} is not in the account's catalog" for v in utid_of]),
    )
    s.flag(
        u.rows(np.array([x is not None for x in problem_u] or [False])),
        "utid",
        u.reasons(problem_u),
    )
    s.flag(
        u.rows(foreign_u),
        "utid",
        u.reasons(
            [f"the reward is in {c}, the account in {s.account_currency}" for c in currency_of]
        ),
    )
    s.usable = u.rows(usable_u)
    s.by_value["utid"] = (u, utid_of)
    s.by_value["reward_name"] = (u, [i.rewardName if i else "" for i in item_of])
    s.by_value["currency"] = (u, currency_of)


def _amount(s: _Store) -> None:
    """A plain positive number with at most 2 decimals, within the reward's values."""
    a = s.a = s.column("amount")
    amounts = s.amounts_f.result()
    plain_a, cents_a = amounts.plain, amounts.cents
    s.cents_a = cents_a
    empty_a = empty(a.uniques)
    account = s.account_currency
    named = currency_marks.named_in_header(s.amount_header)
    if named and account not in named:
        said = " or ".join(sorted(named)) if len(named) < 3 else "dollars"
        s.flag(
            a.rows(~empty_a),
            "amount",
            f"the header '{s.amount_header}' says the amounts are in {said}; the account is in "
            f"{account}: convert them to {account} and rename the header, or send from an "
            f"account in {said}",
        )
    as_written = amounts_read.problems(a.uniques, amounts, account)
    s.flag(a.rows(as_written.astype(bool)), "amount", a.reasons(as_written.tolist()))

    judged = [rules.amount_rule(i) if i is not None else None for i in s.item_of]

    def verdicts(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """What raas.rules.amount_problem says of each pair, judged item by item."""
        said = np.full(len(i), None, dtype=object)
        for item in np.unique(i):
            rule = judged[item]
            assert rule is not None  # only usable rewards are asked about
            on = np.flatnonzero(i == item)
            wrong = _amount_verdicts(rule, cents_a[j[on]])
            texts = np.array([*rule.said, None], dtype=object)
            said[on] = texts[wrong]  # -1: the None at the end
        return said

    judgement = per_pairs(s.u, a, s.usable & a.rows(plain_a & (cents_a > 0)), verdicts)
    s.flag(judgement.found, "amount", judgement.reasons)
    whole = pc.cast(pa.array(cents_a // 100), pa.string())
    hundredths = pc.utf8_lpad(pc.cast(pa.array(cents_a % 100), pa.string()), 2, "0")
    s.by_value["amount"] = (a, pc.binary_join_element_wise(whole, hundredths, "."))  # "25.50"


def _quantity(s: _Store) -> None:
    """A whole number from 1 (1 when empty), within the reward's limits."""
    q = s.q = s.column("quantity")
    written_q = ~empty(q.uniques)  # most files leave it empty
    ok_q = ~written_q | matches(q.uniques, r"^[1-9]\d{0,3}$")
    count_q = s.count_q = np.array(
        [int(v) if w and ok else 1 for v, w, ok in zip(q.values, written_q, ok_q, strict=True)],
        dtype=np.int64,
    )
    s.flag(q.rows(~ok_q), "quantity", "quantity must be a whole number from 1")
    item_of = s.item_of

    def limits(i: int, j: int) -> str | None:
        limits = _known(item_of[i]).quantityConstraints
        low, high = (limits.minQuantity, limits.maxQuantity) if limits else (1, 10**6)
        if low <= count_q[j] <= high:
            return None
        return f"quantity must be between {low} and {high} for this reward"

    found = per_pair(s.u, q, s.usable & q.rows(ok_q), limits)
    s.flag(found.found, "quantity", found.reasons)


def _method(s: _Store) -> None:
    """A delivery method written as raas.rules.METHODS knows it, that the reward takes."""
    m = s.m = s.column("delivery_method")
    method_of = [rules.method_named(v) or "" for v in m.values]
    s.method_u = np.array(method_of or [""], dtype=object)
    empty_m = np.array([v == "" for v in m.values], dtype=bool)
    unknown_m = ~empty_m & np.array([not x for x in method_of], dtype=bool)
    s.flag(
        m.rows(empty_m), "delivery_method", f"delivery method is empty: {rules.methods_listed()}"
    )
    s.flag(
        m.rows(unknown_m),
        "delivery_method",
        m.reasons(
            [
                f"unknown delivery method {v[:40]}: use {rules.methods_listed(hints=True)}"
                for v in m.values
            ]
        ),
    )
    item_of = s.item_of
    found = per_pair(
        s.u,
        m,
        s.usable & m.rows(s.method_u != ""),
        lambda i, j: rules.method_problem(_known(item_of[i]), method_of[j]),
    )
    s.flag(found.found, "delivery_method", found.reasons)
    s.by_value["delivery_method"] = (m, method_of)


def _email(s: _Store) -> None:
    """There when the method needs it; a deliverable address when written."""
    email = s.texts["email"] = s.email_f.result()
    s.flag_missing(
        "recipient.email",
        empty(email),
        "email",
        "an email address" + _unread(s.df, "email", ("email", "mail", "contact")),
    )
    for reason, mask in s.email_ok_f.result()[1].items():
        s.flag(mask, "email", reason)


def _unread(df: pd.DataFrame, column: str, words: tuple[str, ...]) -> str:
    """When the file has no column read as ``column``: the headers that may have meant it
    ("Work Email" and "Personal Email": which to use is not guessed)."""
    if column in df.columns:
        return ""
    known = {c.name for c in COLUMNS} | {ROW}
    near = [
        str(h)
        for h in df.columns
        if h not in known and any(w in normalise_header(h) for w in words)
    ]
    if not near:
        return ""
    named = ", ".join(repr(h) for h in near[:3])
    which = "that header" if len(near) == 1 else "the one to use"
    return f" (no column was read as {column}; {named} could be it: rename {which} to {column})"


def _phone(s: _Store) -> None:
    """There when the method needs it; a number that makes an E.164 one when written."""
    phone, sci = s.phones_f.result()
    none = empty(s.texts["mobile_number"])
    s.flag_missing(
        "recipient.mobileNumber",
        none,
        "mobile_number",
        "a mobile number" + _unread(s.df, "mobile_number", ("phone", "mobile", "cell", "contact")),
    )

    s.flag(
        sci,
        "mobile_number",
        "the number was turned into scientific notation by Excel (digits are lost); "
        "format the column as text and type the number again",
    )
    country = (s.options.default_phone_country or "").upper()
    invalid = (
        f"not a valid mobile number: use +country code and number, e.g. {phones.example(country)}"
        + (
            f" (a number written without + is read in the default country, {country})"
            if country
            else ""
        )
    )
    # a reward that does not go to the phone is told so: the cell can be cleared
    texted = np.isin(s.method_u, rules.methods_needing(rules.MOBILE_NUMBER.paths[0]))
    told = s.m.reasons(
        [
            invalid if t or not m else f"{invalid}; {m} delivery does not need it: or clear it"
            for m, t in zip(s.method_u.tolist(), texted.tolist(), strict=True)
        ]
    )
    s.flag(~none & ~sci & empty(phone), "mobile_number", told)
    # a text or a WhatsApp message reaches a mobile only: a landline or a toll-free number
    # is a number its country has, but the reward sent there would never arrive
    at = np.flatnonzero(s.m.rows(texted) & ~empty(phone))
    if len(at):
        landline = np.zeros(len(s.df), dtype=bool)
        landline[at] = ~phones.in_plan(phone.take(pa.array(at)), mobile=True)
        said = s.m.reasons(
            [
                "not a mobile number (a landline, toll-free or service number in its country, "
                f"or one not given out): {m} delivery needs a mobile"
                for m in s.method_u.tolist()
            ]
        )
        s.flag(landline, "mobile_number", said)

    s.texts["mobile_number"] = phone


def _address(s: _Store) -> None:
    """A complete postal address when the method needs one; a two-letter country."""
    for path in rules.POSTAL_ADDRESS.paths:
        name = AT_WIRE[path].name
        s.flag_missing(path, empty(arrow(s.df, name)), name, name)
    country = s.column("country")
    country_of = pc.utf8_upper(country.uniques)
    s.flag(
        country.rows(~empty(country_of) & ~matches(country_of, r"^[A-Z]{2}$")),
        "country",
        "country must be a two-letter code, e.g. US or GB",
    )
    s.by_value["country"] = (country, country_of.to_pylist())
    us = np.flatnonzero(country.rows(pc.equal(country_of, "US").to_numpy(zero_copy_only=False)))
    zip_code = arrow(s.df, "postal_code").take(pa.array(us))  # a few rows are mailed
    dropped = np.zeros(len(s.df), dtype=bool)
    dropped[us] = matches(zip_code, r"^\d{3,4}$")  # Excel reads 02139 as the number 2139
    s.flag(
        dropped,
        "postal_code",
        "a US ZIP code has 5 digits: Excel may have dropped its leading 0 (write 02139 as "
        "02139, the column formatted as text)",
    )
    shaped = np.ones(len(s.df), dtype=bool)
    shaped[us] = empty(zip_code) | matches(zip_code, r"^\d{5}(-\d{4})?$")
    s.flag(
        ~dropped & ~shaped,
        "postal_code",
        "a US ZIP code is 5 digits, or 5 and 4 (02139 or 02139-4307)",
    )


def _shipping(s: _Store) -> None:
    """A shipping method Tango knows, when the method needs one."""
    shipping = s.column("shipping_method")
    shipping_of = [_shipping_name(v) for v in shipping.values]
    none = np.array([v == "" for v in shipping_of] or [True], dtype=bool)
    s.flag_missing(
        "shippingMethod",
        shipping.rows(none),
        "shipping_method",
        "a shipping method, e.g. upsground or usps1stclass",
    )

    unknown = [v != "" and v not in rules.SHIPPING_METHODS for v in shipping_of]
    s.flag(
        shipping.rows(np.array(unknown or [False])),
        "shipping_method",
        "unknown shipping method; use one of " + ", ".join(sorted(rules.SHIPPING_METHODS)),
    )
    s.by_value["shipping_method"] = (shipping, shipping_of)


def _schedule(s: _Store) -> None:
    """A real date written YYYY-MM-DD, that the reward can be scheduled for."""
    d = s.column("delivery_date")
    day_of = [written_day(v) for v in d.values]
    dated_d = np.array([x != "" for x in day_of] or [False], dtype=bool)
    s.flag(
        d.rows(np.array([v != "" for v in d.values] or [False], dtype=bool) & ~dated_d),
        "delivery_date",
        "delivery date must be a date written YYYY-MM-DD",
    )
    item_of, today = s.item_of, s.today
    found = per_pair(
        s.u,
        d,
        s.usable & d.rows(dated_d),
        lambda i, j: rules.delivery_date_problem(
            _known(item_of[i]), date.fromisoformat(day_of[j]), today
        ),
    )
    s.flag(found.found, "delivery_date", found.reasons)
    # a time of day is not sent (Tango schedules a day): said, so no one counts on it
    times = [unsent_time(v) if x else None for v, x in zip(d.values, day_of, strict=True)]
    s.warned.flag(
        d.rows(np.array([t is not None for t in times] or [False], dtype=bool)),
        "delivery_date",
        d.reasons([time_not_sent(t, x) for t, x in zip(times, day_of, strict=True)]),
    )
    s.by_value["delivery_date"] = (d, day_of)


TOTAL_WORD = r"(?i)^\s*((grand|sub)[\s-]*)?(totals?|sum)\b"
TOTAL_ROW = (
    "looks like a total row under the list (no reward, no method, and a cell saying total), "
    "not a recipient: nothing is sent for it; delete it to keep the file clean"
)
NOTE_ROW = (
    "holds one cell only (no reward, no method): a note or a section label, not a recipient: "
    "nothing is sent for it; delete it, or move the note out of the list"
)


def _total_row(s: _Store) -> None:
    """A "Total" row under the list, or a row of one cell (a note under the list, a section
    label between groups: "Sales team"), is said to be one: its reasons alone ("utid is empty",
    "delivery method is empty") read as if a recipient's row were broken."""
    # no reward and no method (a "Total" typed in the reward's cell, left of the sum, is none)
    no_reward = s.u.rows(empty(s.u.uniques) | matches(s.u.uniques, TOTAL_WORD))
    bare = np.flatnonzero(no_reward & empty(arrow(s.df, "delivery_method")))
    if not len(bare):
        return
    at = pa.array(bare)
    total = np.zeros(len(bare), dtype=bool)
    filled = np.zeros(len(bare), dtype=np.int64)
    for name in s.df.columns:
        if name != ROW:
            cells = arrow(s.df, name).take(at)
            total |= matches(cells, TOTAL_WORD)
            filled += ~empty(cells)
    said = np.zeros(len(s.df), dtype=bool)
    for found, reason in ((total, TOTAL_ROW), (~total & (filled == 1), NOTE_ROW)):
        mask = np.zeros(len(s.df), dtype=bool)
        mask[bare[found]] = True
        s.flag(mask, "row", reason)
        said |= mask
    if said.any():  # its other reasons ("utid is empty") would say it is a broken recipient
        s.problems.only(said, "row")


def _text(s: _Store) -> None:
    """Text sent to Tango: no formulas, controls or garbling, within its length (shorter
    names on a mailed card); lost letters in a name are warned about."""
    found, warned = s.texts_f.result()
    for mask, name, reason in found:
        s.flag(mask, name, reason)
    physical = s.m.rows(np.isin(s.method_u, rules.PHYSICAL_METHODS))
    for name in (c.name for c in COLUMNS if c.kind is Kind.NAME):
        s.flag(
            physical & text_checks.too_long(s.texts[name], rules.PHYSICAL_NAME_MAX_CHARS),
            name,
            f"at most {rules.PHYSICAL_NAME_MAX_CHARS} characters for a mailed card",
        )
    for mask, name, reason in warned:
        s.warned.flag(mask, name, reason)


CHECKS: tuple[Callable[[_Store], None], ...] = (
    _formula_errors,
    _apostrophe,
    _reward,
    _amount,
    _quantity,
    _method,
    _email,
    _phone,
    _address,
    _shipping,
    _schedule,
    _text,
    _marked_not_to_send,
    _total_row,
    _failed_formulas_alone,
)


def _known(item: CatalogItem | None) -> CatalogItem:
    assert item is not None  # per_pair asks only of usable rows, whose reward is known
    return item


# --- the declaration ---------------------------------------------------------------------------


def validate(
    frame: pd.DataFrame,
    catalog: Catalog,
    account_currency: str,
    options: ValidationOptions | None = None,
    headers: Mapping[str, str] | None = None,
) -> Validated:
    """``headers``: the file's header of each column (the reader's ``Sheet.header_map``), for
    what a header says of its values: "Amount (EUR)" is not an amount in a USD account."""
    options = options or ValidationOptions()
    today = options.today or datetime.now(UTC).date()
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow and polars run without the GIL
        row_numbers = frame[ROW].to_numpy()
        s = _Store(
            df=frame,
            account_currency=account_currency,
            amount_header=next((h for h, c in (headers or {}).items() if c == "amount"), ""),
            options=options,
            today=today,
            items={i.utid.upper(): i for i in catalog.items()},
            pool=pool,
            problems=Problems(row_numbers),
            warned=Problems(row_numbers),
        )
        _queue(s)
        for check in CHECKS:
            check(s)
        return _outcome(s)


def _outcome(s: _Store) -> Validated:
    """The valid rows (their columns cut on the pool while the repeat check finishes; repeats,
    rare, are then dropped from them), the rejected rows with their problems."""
    df, p, pool = s.df, s.problems, s.pool
    keep = ~p.bad
    kept = pa.array(keep)
    per_row = {
        c.name: s.texts[c.name] if c.name in s.texts else arrow(df, c.name)
        for c in COLUMNS
        if c.name not in s.by_value and c.kind is not Kind.INT
    }
    # the fees first: the longest of these, it would otherwise finish last, alone
    fees = pool.submit(_fees, s.a, s.q, s.u, s.item_of, s.cents_a, s.count_q, keep)
    cut = {n: pool.submit(c.texts, table, keep) for n, (c, table) in s.by_value.items()}
    cut |= {n: pool.submit(pc.filter, v, kept) for n, v in per_row.items()}

    again = _flag_repeats(s, keep)
    problems = p.table()

    quantity = s.q.rows(s.count_q) if len(s.q) else np.ones(len(df), dtype=np.int64)
    numbers = {
        ROW: p.row_numbers[keep],
        "amount_cents": s.a.rows(s.cents_a)[keep],
        "quantity": quantity[keep],
    }
    valid = pd.DataFrame(
        {
            name: numbers[name] if name in numbers else as_series(cut[name].result())
            for name in VALID_COLUMNS
            if name != "fee"
        }
        | {"fee": fees.result()},
        copy=False,
    )
    if again:  # drop the repeats from what was cut before they were known
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
        warnings=s.warned.table(),
    )


def _flag_repeats(s: _Store, keep: np.ndarray) -> bool:
    """Flag the rows that repeat an earlier good row's key; whether there were any."""
    keys = s.keys_f.result()
    again, first = repeats(np.flatnonzero(keys.shared & keep), keys.key)
    _another_amount(s, keys, keep, again)
    if not len(again):
        return False
    mask = np.zeros(len(s.df), dtype=bool)
    mask[again] = True
    first_row = dict(zip(again, s.problems.row_numbers[first], strict=True))
    s.flag(
        mask,
        "row",
        lambda at: [
            f"same recipient, reward, amount and campaign as row {first_row[i]}, the same "
            "email, phone or address whatever the name (give it a client_row_key or another "
            "campaign if both are meant)"
            for i in at
        ],
    )
    return True


def _another_amount(s: _Store, keys: _Keys, keep: np.ndarray, repeated: np.ndarray) -> None:
    """Warn of a row that gives a recipient the reward an earlier row gives them, at another
    amount: both are sent, and a correction typed under the list without deleting the row it
    corrects pays twice. (Two rewards may be meant: a warning, not a refusal.)"""
    valid = keep.copy()
    valid[repeated] = False  # a repeat is refused already
    later, first = repeats(np.flatnonzero(keys.reward_shared & valid), keys.reward)
    other = keys.cents[later] != keys.cents[first]
    if not other.any():
        return
    mask = np.zeros(len(s.df), dtype=bool)
    mask[later[other]] = True
    earlier = dict(zip(later[other], first[other], strict=True))
    rows = s.problems.row_numbers
    s.warned.flag(
        mask,
        "amount",
        lambda at: [
            f"the same recipient and reward as row {rows[earlier[i]]}, at another amount "
            f"({keys.cents[earlier[i]] / 100:.2f} there): both are sent; if one corrects the "
            "other, delete the one not meant"
            for i in at
        ],
    )


def _fee_cents(
    item_of: list[CatalogItem | None], i: np.ndarray, cents: np.ndarray, qty: np.ndarray
) -> np.ndarray:
    """:func:`raas.rules.line_cost`'s fee, in cents, for many (reward, amount, quantity) at
    once: per reward, integer arithmetic where the fee allows it exactly (a percentage is
    rounded half to even, as Decimal's quantize does), else that reward's lines one by one."""
    out = np.zeros(len(i), dtype=np.int64)
    for item_code in np.unique(i):
        item = item_of[item_code]
        assert item is not None  # valid rows have a known reward
        on = np.flatnonzero(i == item_code)
        value = cents[on] * qty[on]
        fee = item.fee
        if fee is None or not fee.value:
            continue
        numerator, denominator = Decimal(fee.value).as_integer_ratio()
        if (fee.type or "").upper() == "PERCENTAGE" and denominator <= 10**6:
            # value_cents * p / 100, rounded half to even
            top, bottom = value * numerator, 100 * denominator
            whole, rest = np.divmod(top, bottom)
            up = (2 * rest > bottom) | ((2 * rest == bottom) & (whole % 2 == 1))
            out[on] = whole + up
        elif (fee.type or "").upper() != "PERCENTAGE" and (100 * numerator) % denominator == 0:
            out[on] = (100 * numerator // denominator) * qty[on]
        else:  # a fee no integer arithmetic holds exactly: Decimal, line by line
            for at, c, n in zip(on.tolist(), cents[on].tolist(), qty[on].tolist(), strict=True):
                charged = rules.line_cost(item, Decimal(c) / 100, n)[1]
                out[at] = int((charged * 100).to_integral_value())
    return out


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
    codes, joint = columnar.numbered(key, sizes[0] * sizes[1] * sizes[2])
    i, j = np.divmod(joint // sizes[2], sizes[1])
    qty = count_q[joint % sizes[2]].astype(np.int64) if len(q) else np.ones(len(joint), np.int64)
    cents = _fee_cents(item_of, i, cents_a[j].astype(np.int64), qty)
    whole = pc.cast(pa.array(cents // 100), pa.string())
    hundredths = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    fees = pc.binary_join_element_wise(whole, hundredths, ".")
    return as_series(pc.take(fees.cast(TEXT), pa.array(codes)))
