"""``GET /exchangerates``: what a reward in one currency costs an account in another. The
sandbox's rates are fixed (Tango's move daily); orders still refuse a reward whose currency is
not the account's (docs/tango/DECISIONS.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .wire import clean, cursor_page, decode_cursor, page_bounds

USD_PER_UNIT = {  # what one unit of each currency costs in USD
    "USD": Decimal("1"),
    "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"),
    "CAD": Decimal("0.73"),
    "AUD": Decimal("0.66"),
    "MXN": Decimal("0.058"),
    "SGD": Decimal("0.74"),
    "PLN": Decimal("0.25"),
}
AS_OF = "2026-11-01T00:00:00Z"
DISCLAIMER = "Sandbox rates: fixed, for testing only."


def _rates() -> list[dict[str, str]]:
    return [
        {
            "lastModifiedDate": AS_OF,
            "rewardCurrency": reward,
            "baseCurrency": base,
            "baseFx": str(
                (USD_PER_UNIT[reward] / USD_PER_UNIT[base]).quantize(Decimal("0.000001"))
            ),
        }
        for base in USD_PER_UNIT
        for reward in USD_PER_UNIT
        if base != reward
    ]


def _wanted(params: dict[str, Any], name: str) -> set[str]:
    return {v.strip().upper() for v in str(params.get(name) or "").split(",") if v.strip()}


def exchange_rates(params: dict[str, Any]) -> dict[str, Any]:
    """Every pair, or those of the given base / reward currencies; in pages when asked."""
    bases, rewards = _wanted(params, "baseCurrency"), _wanted(params, "rewardCurrency")
    rates = [
        r
        for r in _rates()
        if (not bases or r["baseCurrency"] in bases)
        and (not rewards or r["rewardCurrency"] in rewards)
    ]
    if str(params.get("paginate", "false")).lower() != "true":
        return {"disclaimer": DISCLAIMER, "exchangeRates": rates}
    size = page_bounds(params.get("maxResults"), 10, 200)
    offset = decode_cursor(params.get("nextCursor") or params.get("prevCursor"))
    page = rates[offset : offset + size]
    return clean(
        {
            **cursor_page(offset, size, len(page), len(rates)),
            "maxResults": size,
            "disclaimer": DISCLAIMER,
            "exchangeRates": page,
        }
    )
