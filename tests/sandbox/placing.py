"""Orders placed for the line-item tests: each test's own lines, waited until final."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from raas import AsyncLineItemView, RaasClient
from tests.helpers import line, order, wait_final

FAILS = "@fail.example.com"  # the sandbox refuses delivery to this domain


def in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def place(client: RaasClient, **lines: dict[str, Any]) -> tuple[str, dict[str, AsyncLineItemView]]:
    """Place one order of the named lines (``name=overrides``), wait until it is final; returns
    its externalRefID and its lines by name."""
    ref = f"li-{uuid4().hex[:12]}"
    account = client.settings.account_identifier or ""
    client.create_async_order(
        order(ref, [line(name, **over) for name, over in lines.items()], account=account)
    )
    summary = wait_final(client, ref, account=account)
    return ref, {li.externalRefLineItemID: li for li in summary.lineItems}


def one(client: RaasClient, **over: Any) -> str:
    """The referenceLineItemId of one line, placed and final (delivered unless told)."""
    _, lines = place(client, a=over)
    return lines["a"].referenceLineItemId


def scheduled() -> dict[str, Any]:
    return {"utid": "U100008", "deliveryDate": in_days(10)}


def bounced() -> dict[str, Any]:
    return {"recipient": {"firstName": "Bo", "email": f"bo{FAILS}"}}
