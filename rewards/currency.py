"""How offices write which currency an amount is in: a sign or code beside the number in a
cell ("$25", "25 USD", "US$25", a fullwidth dollar sign), or the amount column's header ("Reward
Amount (EUR)", "amount_gbp", "Amount (€)"). Validation accepts the account's own currency
written so and refuses any other: 25 EUR sent as 25 USD pays the wrong sum."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

# the sign people write before an amount in each currency ("$25.00" in a USD account)
SIGNS = {"USD": "$", "CAD": "$", "AUD": "$", "NZD": "$", "SGD": "$", "HKD": "$", "MXN": "$"}
SIGNS |= {"GBP": "£", "EUR": "€", "JPY": "¥", "CNY": "¥", "INR": "₹", "KRW": "₩", "CHF": "CHF"}
# the dollars told apart by a prefix ("US$25", "C$25")
DOLLARS = {"US$": "USD", "C$": "CAD", "CA$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD"}
DOLLARS |= {"S$": "SGD", "HK$": "HKD", "MX$": "MXN"}
# codes a header may name; three-letter words that are no currency ("AMT") are not among them
CODES = frozenset(SIGNS) | {"BRL", "SEK", "NOK", "DKK", "PLN", "ZAR", "CZK", "HUF", "ILS"}
CODES |= {"TRY", "AED", "SAR", "PHP", "THB", "MYR", "IDR", "TWD", "CLP", "COP", "PEN", "ARS"}
WORDS = {"euro": {"EUR"}, "euros": {"EUR"}, "sterling": {"GBP"}, "pounds": {"GBP"}, "yen": {"JPY"}}
WORDS |= {"dollar": {c for c, s in SIGNS.items() if s == "$"}}
WORDS["dollars"] = WORDS["dollar"]

# a cell that carries some currency's mark: a sign, a prefixed dollar, or a code (any case)
ANY_SIGN = (
    r"(?i)^\s*(?:[A-Z]{0,2}[$£€¥₹₩]|[A-Z]{3}\s)|\s[A-Z]{3}\s*$|[$£€¥₹₩]\s*$|\d\s*[A-Z]{3}\s*$"
)


def mark(currency: str) -> str:
    """A pattern (RE2, for Arrow) for the ways a cell writes ``currency``: its sign, its code
    in any case, its prefixed dollar."""
    marks = {
        SIGNS.get(currency, currency),
        currency,
        *(p for p, c in DOLLARS.items() if c == currency),
    }
    return "(?i:" + "|".join(re.escape(m) for m in sorted(marks, key=len, reverse=True)) + ")"


def as_written(values: pa.Array) -> pa.Array:
    """The cells with compatibility forms folded (fullwidth digits and signs are the plain ones), so that signs
    and digits are the ones the patterns know."""
    if pc.all(pc.string_is_ascii(values)).as_py() is not False:
        return values
    return pc.utf8_normalize(values, "NFKC")


def unsigned(values: pa.Array, currency: str) -> pa.Array:
    """The amounts without ``currency``'s mark before or after them ("$25", "25 USD",
    "usd 25.00"); other text is left as it is (and is then not a plain number)."""
    if not pc.any(pc.match_substring_regex(values, r"[^\d.]")).as_py():  # the usual file
        return values
    values = as_written(values)
    own = mark(currency)
    pattern = rf"^\s*{own}\s*(\d[\d.,]*)$|^(\d[\d.,]*)\s*{own}\s*$"
    signed = pc.match_substring_regex(values, pattern)
    bare = pc.replace_substring_regex(values, pattern, r"\1\2")
    return pc.if_else(signed, bare, values)


def named_in_header(header: str) -> set[str]:
    """The currencies a header says its amounts are in: empty when it names none; several
    when its sign is shared ("Amount ($)" is any dollar)."""
    folded = header.replace("_", " ")
    named: set[str] = set()
    for prefix, code in DOLLARS.items():
        if prefix.lower() in folded.lower():
            named.add(code)
            folded = re.sub(re.escape(prefix), " ", folded, flags=re.IGNORECASE)
    for sign in set(SIGNS.values()) - {"CHF"}:
        if sign in folded:
            named |= {c for c, s in SIGNS.items() if s == sign}
    for word in re.findall(r"[A-Za-z]+", folded):
        if word.upper() in CODES:
            named.add(word.upper())
        named |= WORDS.get(word.lower(), set())
    return named
