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
from collections.abc import Callable, Sequence
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

from . import text_checks
from .columns import AT_WIRE, COLUMNS, ROW, TEXT_SENT, Kind
from .reading import STR


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
TEXT = pa.large_string()  # what STR holds: Arrow text made any other way is cast to it
E164 = r"^\+[1-9]\d{6,14}$"
DENSE = 1 << 16  # value combinations numbered densely up to this many
Reason = str | Callable[[np.ndarray], Sequence[str] | np.ndarray]


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
    warnings: pd.DataFrame = field(default_factory=lambda: _Problems(np.zeros(0, int)).table())


# --- columns as Arrow arrays -----------------------------------------------------------------


def _arrow(frame: pd.DataFrame, name: str) -> pa.ChunkedArray:
    """A column's text as one Arrow array ('' for a missing column or cell); no copy when
    the column is already Arrow-backed, as the reader makes it."""
    if name not in frame:
        return pa.chunked_array([pc.fill_null(pa.nulls(len(frame), TEXT), "")])
    values = frame[name]
    if not isinstance(values.array, pd.arrays.ArrowStringArray):
        values = values.astype(STR)
    out = pa.array(values.array)
    if isinstance(out, pa.Array):
        out = pa.chunked_array([out], type=out.type)
    if out.type != TEXT:
        out = out.cast(TEXT)
    return pc.fill_null(out, "") if out.null_count else out


def _np(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False)


def _empty(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return _np(pc.binary_length(values)) == 0


def _matches(values: pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
    return _np(pc.match_substring_regex(values, pattern))


def _lower(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Lower case; Arrow's ASCII kernel (ten times as fast) when every byte is ASCII."""
    data = (chunk.buffers()[2] for chunk in values.chunks)
    if all(b is None or np.frombuffer(b, np.uint8).max(initial=0) < 128 for b in data):
        return pc.ascii_lower(values)
    return pc.utf8_lower(values)


def _series(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """Arrow text as a pandas column, sharing its buffers."""
    if values.type != TEXT:
        values = values.cast(TEXT)
    return pd.Series(pd.arrays.ArrowStringArray(values, dtype=STR))


class _Coded:
    """A column with few distinct values: those values, once, and each row's code. A check
    runs on the values and reaches the rows with ``rows(table)``."""

    def __init__(self, values: pa.ChunkedArray) -> None:
        written = np.flatnonzero(_np(pc.binary_length(values)))
        if len(written) > len(values) // 2:
            encoded = pc.dictionary_encode(values.combine_chunks())
            self.codes = _np(encoded.indices)
            self.uniques: pa.Array = encoded.dictionary
        else:  # mostly empty (quantity, country, date...): encode the written cells only
            encoded = pc.dictionary_encode(values.take(pa.array(written)).combine_chunks())
            self.uniques = pa.concat_arrays([encoded.dictionary, pa.array([""], TEXT)])
            self.codes = np.full(len(values), len(self.uniques) - 1, dtype=np.int32)
            self.codes[written] = _np(encoded.indices)
        self.values: list[str] = self.uniques.to_pylist()
        self._kept: tuple[np.ndarray, pa.Array] | None = None

    def __len__(self) -> int:
        return len(self.values)

    def rows(self, table: np.ndarray | Sequence[object]) -> np.ndarray:
        table = np.asarray(table)
        if table.dtype == bool and not table.any():  # the usual answer to a check: no row
            return np.zeros(len(self.codes), dtype=bool)
        return table[self.codes]

    def texts(self, table: Sequence[str], keep: np.ndarray) -> pa.Array:
        """Per-value texts ``table`` for the rows in ``keep``, by Arrow's take."""
        if self._kept is None or self._kept[0] is not keep:
            self._kept = (keep, pa.array(self.codes[keep]))
        return pc.take(pa.array(list(table) or [""], TEXT), self._kept[1])

    def reasons(self, table: Sequence[str | None]) -> Callable[[np.ndarray], np.ndarray]:
        values = np.array(list(table) or [None], dtype=object)
        return lambda at: values[self.codes[at]]


@dataclass
class _Answers:
    """What a rule said once per distinct pair of values, spread over the rows."""

    found: np.ndarray  # bool per row: the rule has something to say
    pair: np.ndarray  # per row: which pair
    said: np.ndarray  # object per pair: None (fine) or a reason

    def reasons(self, at: np.ndarray) -> np.ndarray:
        return self.said[self.pair[at]]


def _per_pair(
    a: _Coded, b: _Coded, where: np.ndarray, rule: Callable[[int, int], str | None]
) -> _Answers:
    """``rule(i, j)`` once per distinct (value i of ``a``, value j of ``b``) among the rows in
    ``where``; pairs are numbered densely (len(a) x len(b) is small for such columns)."""
    size = max(len(a), 1) * max(len(b), 1)
    wide = np.int32 if size < 1 << 31 else np.int64
    pair = a.codes.astype(wide) * wide(max(len(b), 1)) + b.codes
    if size > DENSE:  # many distinct values after all: number the pairs seen
        seen_codes, seen = pd.factorize(pair)
        pair, size = np.asarray(seen_codes, dtype=np.int64), len(seen)
        lookup = np.asarray(seen)
    else:
        lookup = None
    asked = np.zeros(size, dtype=bool)
    asked[pair[where]] = True
    said = np.full(size, None, dtype=object)
    for k in np.flatnonzero(asked):
        joint = int(lookup[k]) if lookup is not None else int(k)
        said[k] = rule(*divmod(joint, max(len(b), 1)))
    flagged = np.not_equal(said, None)
    if not flagged.any():  # the usual answer: no row
        return _Answers(np.zeros(len(pair), dtype=bool), pair, said)
    return _Answers(flagged[pair] & where, pair, said)


class _Problems:
    """Failing checks as they are flagged: per check, the positions (int32) and the reason,
    one text or a code per position into a few texts (reasons repeat: a text per problem
    took gigabytes when every row of a million was bad in several ways)."""

    def __init__(self, row_numbers: np.ndarray) -> None:
        self.row_numbers = row_numbers
        self.parts: list[tuple[np.ndarray, str, np.ndarray | None, list[str]]] = []
        self.bad = np.zeros(len(row_numbers), dtype=bool)

    def flag(self, mask: np.ndarray, column: str, reason: Reason) -> None:
        """``reason``: one text, or a function of the flagged positions (reasons are built
        only for those rows, which are few)."""
        at = np.flatnonzero(mask).astype(np.int32)
        if not len(at):
            return
        if callable(reason):
            codes, texts = pd.factorize(np.asarray(reason(at), dtype=object))
            self.parts.append((at, column, codes.astype(np.int32), [str(t) for t in texts]))
        else:
            self.parts.append((at, column, None, [reason]))
        self.bad[at] = True

    def table(self) -> pd.DataFrame:
        """One line per problem, by row (within a row in check order); column and reason
        are categoricals."""
        if not self.parts:
            return pd.DataFrame(
                {
                    ROW: pd.Series(dtype="int64"),
                    "column": pd.Categorical([]),
                    "reason": pd.Categorical([]),
                }
            )
        rows = self.row_numbers[np.concatenate([at for at, *_ in self.parts])]
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        sizes = [len(at) for at, *_ in self.parts]
        text_of, texts = pd.factorize(np.array([t for *_, ts in self.parts for t in ts], object))
        first = np.cumsum([0] + [len(ts) for *_, ts in self.parts])
        reason = text_of[
            np.concatenate(
                [
                    first[k] + (codes if codes is not None else np.zeros(len(at), np.int32))
                    for k, (at, _, codes, _) in enumerate(self.parts)
                ]
            )[order]
        ].astype(np.int32)
        name_of, names = pd.factorize(np.array([c for _, c, *_ in self.parts], dtype=object))
        column = np.repeat(name_of.astype(np.int32), sizes)[order]
        del order
        self._coded = (rows, column, reason, list(names), [str(t) for t in texts])
        return pd.DataFrame(
            {
                ROW: rows,
                "column": pd.Categorical.from_codes(column, names),
                "reason": pd.Categorical.from_codes(reason, texts),
            }
        )

    def joined(self, rows: np.ndarray) -> pa.Array:
        """Each of ``rows``' problems as one text, "column: reason; column: reason", made
        once per distinct list of problems (a few kinds of bad row, however many rows)."""
        numbers, column, reason, names, texts = self._coded
        pair, pairs = pd.factorize(column.astype(np.int64) * len(texts) + reason)
        starts = np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1]])
        counts = np.diff(np.r_[starts, len(numbers)])
        group = np.repeat(np.arange(len(starts), dtype=np.int32), counts)
        grid = np.full((len(starts), int(counts.max())), -1, dtype=np.int32)
        grid[group, np.arange(len(numbers), dtype=np.int32) - starts[group]] = pair
        del group
        kinds, kind_of = np.unique(grid, axis=0, return_inverse=True)
        del grid
        said = [f"{names[p // len(texts)]}: {texts[p % len(texts)]}" for p in pairs.tolist()]
        joined = pa.array(["; ".join(said[p] for p in kind if p >= 0) for kind in kinds], TEXT)
        return joined.take(pa.array(kind_of.ravel()[np.searchsorted(numbers[starts], rows)]))


def _no_text() -> pd.Series:
    return pd.Series(dtype=STR)


# --- values ------------------------------------------------------------------------------------


def _cents(amounts: _Coded) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct amount: whether it is a plain decimal, and its integer cents (0 if not)."""
    plain = _matches(amounts.uniques, r"^\d{1,9}(\.\d{1,2})?$")
    zero = pa.scalar("0", amounts.uniques.type)
    number = pc.cast(pc.if_else(pa.array(plain), amounts.uniques, zero), pa.float64())
    return plain, np.round(_np(number) * 100).astype(np.int64)


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
    has = ~_empty(raw)
    at = np.flatnonzero(has)
    sci = np.zeros(len(raw), dtype=bool)
    out = pc.fill_null(pa.nulls(len(raw), TEXT), "")
    if not len(at):
        return out, sci
    numbers = raw.take(pa.array(at)).combine_chunks()
    ready = _matches(numbers, E164)
    if not ready.all():
        others = numbers.filter(pa.array(~ready))
        sci[at[~ready]] = _matches(others, r"\d[eE]\+?\d")
        fixed = pa.array(normalise_phone(_series(others), default_country).array)
        numbers = pc.replace_with_mask(numbers, pa.array(~ready), fixed.cast(TEXT))
    return pc.replace_with_mask(out, pa.array(has), numbers), sci


# --- repeats -----------------------------------------------------------------------------------


@dataclass
class _RepeatKey:
    """What makes two rows the same reward to the same person: text columns (some compared
    without case) and integer columns (the reward's code, the amount in cents)."""

    texts: list[pa.ChunkedArray]
    caseless: list[bool]
    numbers: list[np.ndarray]

    def rows(self, start: int, stop: int) -> dict[str, object]:
        cut = [t.slice(start, stop - start) for t in self.texts]
        out: dict[str, object] = {
            f"t{i}": _lower(t) if low else t
            for i, (t, low) in enumerate(zip(cut, self.caseless, strict=True))
        }
        return out | {f"n{i}": n[start:stop] for i, n in enumerate(self.numbers)}

    def at(self, positions: np.ndarray) -> pa.Table:
        index = pa.array(positions)
        out: dict[str, object] = {}
        for i, (t, low) in enumerate(zip(self.texts, self.caseless, strict=True)):
            taken = t.take(index)
            out[f"t{i}"] = _lower(taken) if low else taken
        return pa.table(out | {f"n{i}": n[positions] for i, n in enumerate(self.numbers)})


HASH_SLICE = 1 << 18  # rows hashed at a time: polars' copy of them stays small


def _shared_hashes(key: _RepeatKey, rows: int) -> np.ndarray:
    """Rows whose key hashes like another row's: every repeat is among them (with any hash
    collision, so the caller compares the values). polars hashes the rows in its own
    threads, several times as fast as dictionary-encoding joined keys."""
    import polars as pl

    hashes = np.empty(rows, dtype=np.uint64)
    for start in range(0, rows, HASH_SLICE):
        stop = min(start + HASH_SLICE, rows)
        table = pa.table(key.rows(start, stop))
        hashes[start:stop] = pl.from_arrow(table).hash_rows().to_numpy()
    ordered = np.sort(hashes)
    twice = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(twice):  # the usual case: no two rows alike
        return np.zeros(rows, dtype=bool)
    return np.isin(hashes, twice)


def _repeats(candidates: np.ndarray, key: _RepeatKey) -> tuple[np.ndarray, np.ndarray]:
    """Among ``candidates`` (positions in row order), those whose key equals an earlier one's,
    and for each of those the position of the first row with that key."""
    if not len(candidates):
        return candidates, candidates
    import polars as pl

    keys = pl.from_arrow(key.at(candidates))
    assert isinstance(keys, pl.DataFrame)
    # each candidate's first row with the same values (polars compares values, not hashes)
    columns = keys.columns
    keys = keys.with_columns(pl.Series("at", candidates))
    first = keys.select(pl.col("at").first().over(columns)).to_series().to_numpy()
    again = first != candidates
    return candidates[again], first[again]


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
        values = _arrow(df, name)
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
    p = _Problems(df[ROW].to_numpy())

    # The column work (encoding, lower-casing, regexes, the repeat hash) is queued on the pool
    # in the order it is needed; the checks below run here and wait only for what they use.
    # A task may wait for one queued before it, never after: two workers cannot deadlock.
    def encode(*names: str) -> None:
        coded.update({n: pool.submit(lambda n: _Coded(_arrow(df, n)), n) for n in names})

    coded: dict[str, Future[_Coded]] = {}
    encode("utid", "amount")
    email_f = pool.submit(lambda: _lower(_arrow(df, "email")))
    email_ok_f = pool.submit(lambda: text_checks.email_problems(email_f.result()))
    encode("quantity", "delivery_method")
    phone_raw = _arrow(df, "mobile_number")
    phones_f = pool.submit(_phones, phone_raw, options.default_phone_country)
    street, city, postal = (_arrow(df, c) for c in ("street_line_1", "city", "postal_code"))
    first_name, last_name = _arrow(df, "first_name"), _arrow(df, "last_name")
    campaign = _arrow(df, "campaign")
    if options.default_campaign:
        default = pa.scalar(options.default_campaign, TEXT)
        campaign = pc.if_else(_empty(campaign), default, campaign)
    row_key = _arrow(df, "client_row_key")

    def repeat_key() -> tuple[np.ndarray, _RepeatKey]:
        """(recipient, reward, campaign, row key, amount in cents: "10" is "10.00")."""
        u, a = coded["utid"].result(), coded["amount"].result()
        same: dict[str, int] = {}  # "u100001" and "U100001" are one reward
        upper = pc.utf8_upper(u.uniques).to_pylist()
        reward = np.array([same.setdefault(v, len(same)) for v in upper] or [0])[u.codes]
        texts = [email_f.result(), phones_f.result()[0], street, postal, first_name, last_name]
        key = _RepeatKey(
            texts=[*texts, campaign, row_key],
            caseless=[False, False, True, True, True, True, False, False],
            numbers=[reward, a.rows(_cents(a)[1])],
        )
        return _shared_hashes(key, len(df)), key

    shared_f = pool.submit(repeat_key)
    encode("country", "shipping_method", "delivery_date")
    texts_f = pool.submit(_text_problems, df, email_f)

    # --- the reward -------------------------------------------------------------------
    u = coded["utid"].result()
    utid = pc.utf8_upper(u.uniques)
    utid_of = utid.to_pylist()
    items = {i.utid.upper(): i for i in catalog.items()}
    item_of = [items.get(v) for v in utid_of]
    empty_u = _empty(utid)
    shaped_u = _matches(utid, r"^U\d+$")
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
    empty_a = _empty(a.uniques)
    p.flag(a.rows(empty_a), "amount", "amount is empty")
    p.flag(
        a.rows(~empty_a & ~plain_a),
        "amount",
        "amount must be a plain number with at most 2 decimals, e.g. 25 or 25.50 "
        "(no currency sign, thousands separator or exponent)",
    )
    p.flag(a.rows(plain_a & (cents_a <= 0)), "amount", "amount must be greater than 0")
    amount_problem = _per_pair(
        u,
        a,
        usable & a.rows(plain_a & (cents_a > 0)),
        lambda i, j: rules.amount_problem(item_of[i], Decimal(int(cents_a[j])) / 100),
    )
    p.flag(amount_problem.found, "amount", amount_problem.reasons)

    q = coded["quantity"].result()
    written_q = ~_empty(q.uniques)  # most files leave it empty
    ok_q = ~written_q | _matches(q.uniques, r"^[1-9]\d{0,3}$")
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

    quantity_limits = _per_pair(u, q, usable & q.rows(ok_q), quantity_problem)
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
    method_problem = _per_pair(
        u,
        m,
        usable & m.rows(method_u != ""),
        lambda i, j: rules.method_problem(item_of[i], method_of[j]),
    )
    p.flag(method_problem.found, "delivery_method", method_problem.reasons)

    email = email_f.result()
    email_empty = _empty(email)
    p.flag(
        needing("recipient.email") & email_empty, "email", "EMAIL delivery needs an email address"
    )
    for reason, mask in email_ok_f.result()[1].items():
        p.flag(mask, "email", reason)

    phone, sci = phones_f.result()

    phone_none = _empty(phone_raw)
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
        ~phone_none & ~sci & _empty(phone),
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
        p.flag(needing(path) & _empty(_arrow(df, name)), name, f"{methods} delivery needs {name}")
    p.flag(
        country.rows(~_empty(country_of) & ~_matches(country_of, r"^[A-Z]{2}$")),
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
    date_problem = _per_pair(
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
            physical & text_checks.too_long(_arrow(df, name), rules.PHYSICAL_NAME_MAX_CHARS),
            name,
            f"at most {rules.PHYSICAL_NAME_MAX_CHARS} characters for a mailed card",
        )
    warned = _Problems(p.row_numbers)
    for mask, name, reason in text_warnings:
        warned.flag(mask, name, reason)

    # --- what goes on ----------------------------------------------------------------------
    # The valid columns are cut on the pool while the repeat check finishes; repeats (rare)
    # are then dropped from them.
    keep = ~p.bad
    amount_of = [f"{c // 100}.{c % 100:02d}" for c in cents_a.tolist()]
    by_value: dict[str, tuple[_Coded, Sequence[str]]] = {
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
        c.name: normalised[c.name] if c.name in normalised else _arrow(df, c.name)
        for c in COLUMNS
        if c.name not in by_value and c.kind is not Kind.INT
    }
    kept = pa.array(keep)
    cut = {n: pool.submit(c.texts, table, keep) for n, (c, table) in by_value.items()}
    cut |= {n: pool.submit(pc.filter, v, kept) for n, v in per_row.items()}
    fees = pool.submit(_fees, a, q, u, item_of, cents_a, count_q, keep)

    # --- repeats within the file -----------------------------------------------------
    shared, repeat = shared_f.result()
    again, first = _repeats(np.flatnonzero(shared & keep), repeat)
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
            name: numbers[name] if name in numbers else _series(cut[name].result())
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
        rejected["problems"] = _series(p.joined(rejected[ROW].to_numpy()))
    else:
        rejected["problems"] = _no_text()
    return Validated(
        valid=valid,
        rejected=rejected,
        problems=problems,
        rows_in=len(df),
        warnings=warned.table(),
    )


def _fees(
    a: _Coded,
    q: _Coded,
    u: _Coded,
    item_of: list[CatalogItem | None],
    cents_a: np.ndarray,
    count_q: np.ndarray,
    keep: np.ndarray,
) -> pd.Series:
    """The fee of each valid row, computed once per distinct (reward, amount, quantity)."""
    if not keep.any():
        return _no_text()
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
    return _series(pc.take(pa.array(fees, TEXT), pa.array(codes)))
