"""The columnar machinery validation runs on: columns as Arrow arrays, columns with few
distinct values dictionary-encoded (:class:`Coded`), rules asked once per distinct pair of
values (:func:`per_pair`), failing checks collected as positions and coded reasons
(:class:`Problems`), and rows that repeat a key (:func:`shared_hashes`, :func:`repeats`).

Nothing here knows what a valid row is (that is :mod:`rewards.validation`); it knows how to
ask a question of a million rows cheaply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrow_text import buffers
from .columns import ROW
from .reading import STR

TEXT = pa.large_string()  # what STR holds: Arrow text made any other way is cast to it
DENSE = 1 << 16  # value combinations numbered densely up to this many
Reason = str | Callable[[np.ndarray], Sequence[str] | np.ndarray]


# --- columns as Arrow arrays -----------------------------------------------------------------


def arrow(frame: pd.DataFrame, name: str) -> pa.ChunkedArray:
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


def to_numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    out: np.ndarray = values.to_numpy(zero_copy_only=False)
    return out


def empty(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    out: np.ndarray = to_numpy(pc.binary_length(values)) == 0
    return out


def matches(values: pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
    return to_numpy(pc.match_substring_regex(values, pattern))


def without(values: pa.Array | pa.ChunkedArray, chars: str) -> pa.Array:
    """The text with every one of the ASCII ``chars`` taken out, in one pass over its bytes
    (a regex replace costs ten times as much; an ASCII byte is never part of another
    character in UTF-8)."""
    text = values.cast(TEXT)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    if text.null_count:
        text = pc.fill_null(text, "")
    offsets, data = buffers(text)
    if not len(data):
        return text
    data = data[offsets[0] : offsets[-1]]
    drop = np.zeros(256, dtype=bool)
    drop[list(chars.encode("ascii"))] = True
    dropped = drop.take(data)
    gone = np.flatnonzero(dropped)
    if not len(gone):
        return text
    starts = offsets - offsets[0]
    return pa.LargeStringArray.from_buffers(
        len(text),
        pa.py_buffer(starts - np.searchsorted(gone, starts)),  # less the bytes gone before
        pa.py_buffer(data[~dropped]),
    )


def lower(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Lower case; Arrow's ASCII kernel (ten times as fast) when every byte is ASCII."""
    data = (chunk.buffers()[2] for chunk in values.chunks)
    if all(b is None or np.frombuffer(b, np.uint8).max(initial=0) < 128 for b in data):
        return pc.ascii_lower(values)
    return pc.utf8_lower(values)


def as_series(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """Arrow text as a pandas column, sharing its buffers."""
    if values.type != TEXT:
        values = values.cast(TEXT)
    return pd.Series(pd.arrays.ArrowStringArray(values, dtype=STR))


class Coded:
    """A column with few distinct values: those values, once, and each row's code. A check
    runs on the values and reaches the rows with ``rows(table)``."""

    def __init__(self, values: pa.ChunkedArray) -> None:
        written = np.flatnonzero(to_numpy(pc.binary_length(values)))
        if len(written) > len(values) // 2:
            encoded = pc.dictionary_encode(values.combine_chunks())
            self.codes = to_numpy(encoded.indices)
            self.uniques: pa.Array = encoded.dictionary
        else:  # mostly empty (quantity, country, date...): encode the written cells only
            encoded = pc.dictionary_encode(values.take(pa.array(written)).combine_chunks())
            self.uniques = pa.concat_arrays([encoded.dictionary, pa.array([""], TEXT)])
            self.codes = np.full(len(values), len(self.uniques) - 1, dtype=np.int32)
            self.codes[written] = to_numpy(encoded.indices)
        self._kept: tuple[np.ndarray, pa.Array] | None = None

    @cached_property
    def values(self) -> list[str]:
        """The distinct values as Python text, for checks that need Python per value (made
        when asked: a column of amounts can have hundreds of thousands)."""
        values: list[str] = self.uniques.to_pylist()
        return values

    def __len__(self) -> int:
        return len(self.uniques)

    def rows(self, table: np.ndarray | Sequence[object]) -> np.ndarray:
        table = np.asarray(table)
        if table.dtype == bool and not table.any():  # the usual answer to a check: no row
            return np.zeros(len(self.codes), dtype=bool)
        out: np.ndarray = np.take(table, self.codes)  # a quarter of table[codes]'s time
        return out

    def texts(self, table: Sequence[str] | pa.Array, keep: np.ndarray) -> pa.Array:
        """Per-value texts ``table`` for the rows in ``keep``, by Arrow's take."""
        if self._kept is None or self._kept[0] is not keep:
            self._kept = (keep, pa.array(self.codes[keep]))
        if isinstance(table, pa.Array) and len(table):
            values = table.cast(TEXT)
        else:
            values = pa.array(list(table) or [""], TEXT)
        return pc.take(values, self._kept[1])

    def reasons(self, table: Sequence[str | None]) -> Callable[[np.ndarray], np.ndarray]:
        values = np.array(list(table) or [None], dtype=object)
        return lambda at: values[self.codes[at]]


@dataclass
class Answers:
    """What a rule said once per distinct pair of values, spread over the rows."""

    found: np.ndarray  # bool per row: the rule has something to say
    pair: np.ndarray  # per row: which pair
    said: np.ndarray  # object per pair: None (fine) or a reason

    def reasons(self, at: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.said[self.pair[at]]
        return out


def numbered(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Keys in ``range(size)`` numbered densely in their order: each key's number, and the
    keys present. A table of ``size`` flags when that is not much more than the keys (half
    the time of a hash table), else pandas' hash table."""
    if size > 4 * len(keys) + DENSE:
        codes, seen = pd.factorize(keys)
        return np.asarray(codes, dtype=np.int64), np.asarray(seen, dtype=np.int64)
    present = np.zeros(size, dtype=bool)
    present[keys] = True
    number = np.cumsum(present, dtype=np.int64) - 1
    return np.take(number, keys), np.flatnonzero(present)


def _numbered(a: Coded, b: Coded, where: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, its distinct (value of ``a``, value of ``b``) pair, numbered densely; the
    pairs asked about (those of the rows in ``where``); and each pair's (i, j) as one number
    ``i * len(b) + j``."""
    width = max(len(b), 1)
    size = max(len(a), 1) * width
    wide = np.int32 if size < 1 << 31 else np.int64
    pair = a.codes.astype(wide) * np.asarray(width, dtype=wide) + b.codes
    if size > DENSE:  # many distinct values after all: number the pairs seen
        pair, joint = numbered(pair, size)
    else:
        joint = np.arange(size, dtype=np.int64)
    asked = np.zeros(len(joint), dtype=bool)
    asked[pair[where]] = True
    return pair, np.flatnonzero(asked), joint


def _answers(pair: np.ndarray, where: np.ndarray, said: np.ndarray) -> Answers:
    flagged = np.not_equal(said, np.asarray(None, dtype=object))
    if not flagged.any():  # the usual answer: no row
        return Answers(np.zeros(len(pair), dtype=bool), pair, said)
    return Answers(flagged[pair] & where, pair, said)


def per_pair(
    a: Coded, b: Coded, where: np.ndarray, rule: Callable[[int, int], str | None]
) -> Answers:
    """``rule(i, j)`` once per distinct (value i of ``a``, value j of ``b``) among the rows in
    ``where``: for rules over few pairs (a reward and its method, its date)."""
    pair, asked, joint = _numbered(a, b, where)
    said = np.full(len(joint), None, dtype=object)
    width = max(len(b), 1)
    for k in asked:
        said[k] = rule(*divmod(int(joint[k]), width))
    return _answers(pair, where, said)


def per_pairs(
    a: Coded,
    b: Coded,
    where: np.ndarray,
    rule: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> Answers:
    """:func:`per_pair` for rules that judge every asked pair at once: ``rule(i, j)`` takes
    the arrays of their value numbers and returns a reason or None per pair (an amount per
    row in a file of a million can make hundreds of thousands of pairs)."""
    pair, asked, joint = _numbered(a, b, where)
    said = np.full(len(joint), None, dtype=object)
    if len(asked):
        i, j = np.divmod(joint[asked], max(len(b), 1))
        said[asked] = rule(i, j)
    return _answers(pair, where, said)


class Problems:
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

    def only(self, mask: np.ndarray, column: str, reason: str | None = None) -> None:
        """The rows in ``mask`` keep their problems in ``column`` alone (flagged before): a
        row said to be a total is not also a recipient with an empty reward. With ``reason``,
        only that column's other reasons go: a cell showing #N/A is not also "not a
        number"."""
        kept = []
        for at, name, codes, texts in self.parts:
            ours = name == column and (reason is None or (codes is None and texts == [reason]))
            if not ours and (reason is None or name == column):
                keep = ~mask[at]
                at, codes = at[keep], None if codes is None else codes[keep]
            if len(at):
                kept.append((at, name, codes, texts))
        self.parts = kept

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


def no_text() -> pd.Series:
    return pd.Series(dtype=STR)


# --- rows that repeat a key -----------------------------------------------------------------------------------


@dataclass
class RowKey:
    """A key over several columns: text columns (some compared without case) and integer
    columns (codes, cents)."""

    texts: list[pa.ChunkedArray]
    caseless: list[bool]
    numbers: list[np.ndarray]

    def rows(self, start: int, stop: int) -> dict[str, object]:
        cut = [t.slice(start, stop - start) for t in self.texts]
        out: dict[str, object] = {
            f"t{i}": lower(t) if low else t
            for i, (t, low) in enumerate(zip(cut, self.caseless, strict=True))
        }
        return out | {f"n{i}": n[start:stop] for i, n in enumerate(self.numbers)}

    def at(self, positions: np.ndarray) -> pa.Table:
        index = pa.array(positions)
        out: dict[str, object] = {}
        for i, (t, low) in enumerate(zip(self.texts, self.caseless, strict=True)):
            taken = t.take(index)
            out[f"t{i}"] = lower(taken) if low else taken
        return pa.table(out | {f"n{i}": n[positions] for i, n in enumerate(self.numbers)})


HASH_SLICE = 1 << 18  # rows hashed at a time: polars' copy of them stays small


def row_hashes(key: RowKey, rows: int) -> np.ndarray:
    """Each row's key hashed. polars hashes the rows in its own threads, several times as
    fast as dictionary-encoding joined keys."""
    import polars as pl

    hashes = np.empty(rows, dtype=np.uint64)
    for start in range(0, rows, HASH_SLICE):
        stop = min(start + HASH_SLICE, rows)
        table = pa.table(key.rows(start, stop))
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        hashes[start:stop] = frame.hash_rows().to_numpy()
    return hashes


def with_number(hashes: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """The hashes of the key with one more integer column (mixed in, wrapping: a collision
    only adds a candidate, since the caller compares values)."""
    mixed: np.ndarray = (hashes ^ (numbers.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))) * (
        np.uint64(0xBF58476D1CE4E5B9)
    )
    return mixed


def shared(hashes: np.ndarray) -> np.ndarray:
    """Rows whose hash is another row's: every repeat is among them (with any hash collision,
    so the caller compares the values)."""
    rows = len(hashes)
    ordered = np.sort(hashes)
    twice = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(twice):  # the usual case: no two rows alike
        return np.zeros(rows, dtype=bool)
    return np.isin(hashes, twice)


def repeats(candidates: np.ndarray, key: RowKey) -> tuple[np.ndarray, np.ndarray]:
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
