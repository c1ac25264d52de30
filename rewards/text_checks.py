"""Checks on the text a row sends to Tango, a whole column at a time.

Each check first screens the column's bytes with one cheap pass (most columns are plain
ASCII, short, and never start with a formula character) and only then looks at rows, with
Arrow's or polars' regex kernels; emails that fail the plain-ASCII regex are sorted by reason
with more kernels over them alone, and only their distinct domains are asked of IDNA. Every
check returns a boolean mask over the rows (or masks with reasons).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrow_text import buffers

if TYPE_CHECKING:
    import polars as pl

# a cell a spreadsheet would run: these first, or their fullwidth forms (Excel takes them too)
FORMULA_START = "=+-@\uff1d\uff0b\uff0d\uff20"
# control characters (Cc), with line breaks and tabs kept apart; bidirectional overrides and
# isolates (the format characters that reorder what a reader sees)
CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
BREAKS = r"\t\n\r"
BIDI = r"\x{202a}-\x{202e}\x{2066}-\x{2069}"
# UTF-8 read as Windows-1252: "é" becomes "Ã©", a curly quote "â€" and a letter
MOJIBAKE = r"[\x{c2}\x{c3}][\x{80}-\x{bf}]|\x{e2}\x{20ac}"
LOST_LETTER = r"\x{fffd}|\pL\?|\?\pL"  # the replacement character, or "?" inside a word
ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-"  # RFC 5322's atext
ASCII_EMAIL = (
    rf"^[{ATEXT}]+(\.[{ATEXT}]+)*@[A-Za-z0-9]([A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
LOCAL_MAX_OCTETS, EMAIL_MAX_OCTETS = 64, 254  # RFC 5321
INVISIBLE = r"[\p{Cc}\p{Cf}\p{Z}]"
# letters of two confusable scripts in one part (between @ and dots): a Cyrillic letter
# among Latin ones is a look-alike address
_CONFUSABLE = ("Latin", "Cyrillic", "Greek", "Armenian")
MIXED_SCRIPTS = "|".join(
    r"\p{%s}[^@.]*[%s]" % (a, "".join(r"\p{%s}" % b for b in _CONFUSABLE if b != a))  # noqa: UP031
    for a in _CONFUSABLE
)
_LOCAL = rf"[\p{{L}}\p{{M}}\p{{N}}{ATEXT}]+"  # RFC 6531: letters of any script, or atext
INTERNATIONAL_EMAIL = rf"^{_LOCAL}(\.{_LOCAL})*@[^@\s]+\.[^@\s]+$"


# --- screens ------------------------------------------------------------------------------------


class Screen:
    """One column's text bytes, looked at once: the lowest and highest byte (two vectorised
    reductions tell whether a control character or any non-ASCII text can be there at all)
    and each cell's first byte (read from the offsets)."""

    def __init__(self, values: pa.ChunkedArray) -> None:
        self.values = values
        self.data = [d for d in (_bytes(chunk) for chunk in values.chunks) if len(d)]
        self.low = min((int(d.min()) for d in self.data), default=0x20)
        self.high = max((int(d.max()) for d in self.data), default=0)

    def has(self, *characters: str) -> bool:
        """Whether any of the ASCII ``characters`` is in the column."""
        return any(bool((d == ord(c)).any()) for c in characters for d in self.data)

    @property
    def ascii(self) -> bool:
        return self.high < 0x80

    def none(self) -> np.ndarray:
        return np.zeros(len(self.values), dtype=bool)

    def matches(self, pattern: str) -> np.ndarray:
        """Rows matching ``pattern``, by polars' regex engine."""
        return _contains(self.values, pattern)

    def first_bytes(self) -> np.ndarray:
        """Each cell's first byte, 0 for an empty cell."""
        if not self.data:
            return np.zeros(len(self.values), dtype=np.uint8)
        out = []
        for chunk in self.values.chunks:
            offsets = buffers(chunk)[0]
            data = _bytes(chunk)
            if not len(data):
                out.append(np.zeros(len(chunk), dtype=np.uint8))
                continue
            first = np.take(data, offsets[:-1] - offsets[0], mode="clip")
            first[offsets[1:] == offsets[:-1]] = 0  # an empty cell has no first byte
            out.append(first)
        return np.concatenate(out) if len(out) > 1 else out[0]


def _bytes(chunk: pa.Array) -> np.ndarray:
    """A chunk's text bytes, in place."""
    offsets, data = buffers(chunk)
    return data[offsets[0] : offsets[-1]] if len(data) else data


# --- text fields -----------------------------------------------------------------------------


def formula_like(screen: Screen) -> np.ndarray:
    """Cells a spreadsheet would run as a formula: starting with = + - @ or their fullwidth
    forms, after any leading spaces, tabs or line breaks (the reader trims those, but a
    frame may come from elsewhere). Judged by first bytes; only cells whose first byte could
    begin a fullwidth form or a space are looked at as text."""
    first = screen.first_bytes()
    risky = (first == ord("=")) | (first == ord("+")) | (first == ord("-")) | (first == ord("@"))
    # a space or a control first, or a non-ASCII character (a fullwidth form among them)
    look = np.flatnonzero(((first > 0) & (first <= 0x20)) | (first >= 0xC2))
    if len(look):
        heads = screen.values.take(pa.array(look))
        heads = pc.utf8_slice_codeunits(pc.utf8_ltrim_whitespace(heads), 0, 1)
        starts = pc.is_in(heads, value_set=pa.array(list(FORMULA_START), heads.type))
        risky[look] = starts.to_numpy(zero_copy_only=False)
    return np.asarray(risky, dtype=bool)


def controls(screen: Screen, line_breaks: bool = False) -> np.ndarray:
    """Cells holding a control character or a bidirectional override (line breaks and tabs
    allowed where ``line_breaks``)."""
    if screen.low >= 0x20 and screen.high < 0x7F:
        return screen.none()
    allowed = CONTROLS if line_breaks else CONTROLS + BREAKS
    return screen.matches(f"[{allowed}{BIDI}]")


def too_long(values: pa.ChunkedArray, limit: int) -> np.ndarray:
    """Cells over ``limit`` characters (bytes first: no cell is longer in characters)."""
    if not len(values) or (pc.max(pc.binary_length(values)).as_py() or 0) <= limit:
        return np.zeros(len(values), dtype=bool)
    over = pc.greater(pc.utf8_length(values), limit).to_numpy(zero_copy_only=False)
    return np.asarray(over, dtype=bool)


def containing(screen: Screen, characters: str) -> np.ndarray:
    """Cells holding any of ``characters`` (ASCII)."""
    if not screen.has(*characters):
        return screen.none()
    escaped = "".join("\\" + c if c in "[]\\^-" else c for c in characters)
    return screen.matches(f"[{escaped}]")


def garbled(screen: Screen) -> np.ndarray:
    """Cells that look like UTF-8 read as Windows-1252 ("JosÃ©" for "José")."""
    if screen.high < 0xC3:  # Ã, Â and â all start with byte 0xC3
        return screen.none()
    return screen.matches(MOJIBAKE)


def lost_letters(screen: Screen) -> np.ndarray:
    """Cells where an export lost letters: U+FFFD, or a "?" inside a word ("Jos? M?ller")."""
    if not (screen.has("?") or screen.high >= 0xEF):
        return screen.none()
    return screen.matches(LOST_LETTER)


# --- emails -----------------------------------------------------------------------------------


def email_problems(emails: pa.ChunkedArray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(rows whose email is well formed, {reason: rows}) for the non-empty cells of
    ``emails`` (lower-cased). Plain ASCII addresses pass one regex and two lengths; the rest
    are sorted by reason with more regexes over them alone, and only their distinct domains
    go to IDNA: no per-row Python however many rows fail."""
    lengths = pc.binary_length(emails).to_numpy(zero_copy_only=False)
    ok = _contains(emails, ASCII_EMAIL) & _lengths_fit(emails, lengths)
    failed = np.flatnonzero(~ok & (lengths > 0))
    if not len(failed):
        return ok, {}
    suspects = emails.take(pa.array(failed))
    said = np.full(len(failed), None, dtype=object)  # the first reason that applies
    for reason, found in _email_reasons(suspects, lengths[failed]):
        said[(said == None) & found] = reason  # noqa: E711 (elementwise)
    ok[failed[said == None]] = True  # noqa: E711 (an internationalised address, well formed)
    return ok, {r: _spread(failed[said == r], len(emails)) for r in set(said) - {None}}


def _email_reasons(emails: pa.ChunkedArray, lengths: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The checks, in the order their reasons are given, over addresses that are not plain
    ASCII addresses: RFC 5321's lengths, no control, format or space characters, the normal
    form (no fullwidth letters), one script in each part (no Cyrillic letter among Latin
    ones), RFC 5322's characters, a domain that IDNA accepts."""
    ascii_ = pc.string_is_ascii(emails).to_numpy(zero_copy_only=False)
    normal = pc.equal(pc.utf8_normalize(emails, "NFKC"), emails).to_numpy(zero_copy_only=False)
    return [  # what people paste into an email cell first, each said as what it is
        ("email holds a name as well: write the address alone", _contains(emails, r"<[^<>]*@")),
        (
            "email holds more than one address: one address per row",
            _contains(emails, r"@[^@]*[,;\s][^@]*@"),
        ),
        ("email contains a space: remove it", _contains(emails, r"^[^\p{Cc}\p{Cf}]* ")),
        ("email contains an invisible or control character", _contains(emails, INVISIBLE)),
        (
            f"email is too long (at most {LOCAL_MAX_OCTETS} bytes before the @ and "
            f"{EMAIL_MAX_OCTETS} in all)",
            ~_lengths_fit(emails, lengths),
        ),
        ("not a valid email address", ascii_),
        ("email contains fullwidth or compatibility characters; type it in plain letters", ~normal),
        ("email mixes scripts in one part (look-alike letters)", _contains(emails, MIXED_SCRIPTS)),
        ("not a valid email address", ~_contains(emails, INTERNATIONAL_EMAIL)),
        ("the email's domain is not a valid internationalised domain name", ~_idna_domains(emails)),
    ]


def _lengths_fit(emails: pa.ChunkedArray, lengths: np.ndarray) -> np.ndarray:
    """Within RFC 5321's lengths: the local part is measured only where the whole is long."""
    fit = lengths <= EMAIL_MAX_OCTETS
    long = np.flatnonzero(lengths > LOCAL_MAX_OCTETS)
    if len(long):
        at = pc.find_substring(emails.take(pa.array(long)), "@").to_numpy(zero_copy_only=False)
        fit[long[at > LOCAL_MAX_OCTETS]] = False
    return fit


def _idna_domains(emails: pa.ChunkedArray) -> np.ndarray:
    """Whether each address's domain is one IDNA accepts, asked once per distinct domain."""
    import idna

    domains = _polars(emails).str.extract(r"@([^@]*)$", 1).fill_null("")
    distinct, codes = np.unique(domains.to_numpy(), return_inverse=True)

    def accepted(domain: str) -> bool:
        try:
            idna.encode(domain)
        except (idna.IDNAError, UnicodeError):
            return False
        return True

    return np.array([accepted(d) for d in distinct.tolist()], dtype=bool)[codes.ravel()]


def _polars(values: pa.ChunkedArray | pa.Array) -> pl.Series:
    """An Arrow column as a polars Series (polars' regex engine releases the GIL)."""
    import polars as pl

    series = pl.from_arrow(values)
    assert isinstance(series, pl.Series)
    return series


def _contains(values: pa.ChunkedArray | pa.Array, pattern: str) -> np.ndarray:
    matched = _polars(values).str.contains(pattern).fill_null(False).to_numpy()
    return np.asarray(matched, dtype=bool)


def _spread(positions: np.ndarray, size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[positions] = True
    return mask
