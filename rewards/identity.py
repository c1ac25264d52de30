"""The one place that derives every identifier sent to Tango.

``externalRefLineItemID`` comes from what the line *is* (account, recipient, reward, amount,
quantity, method, date, campaign, client row key), so the same reward to the same person is
recognised in any file, and a deliberate repeat needs another campaign or client row key.
An action on a sent line (resend, cancel...) is named by what it does: account, action, line
and the new values, so the same action in a rerun or another file is done once.
``externalRefID`` comes from the batch (the hash of its line ids) and the chunk index, so a
rerun of the same work re-sends the same ids and Tango's idempotency returns the originals.
"""

from __future__ import annotations

import hashlib

import pandas as pd

LINE_FIELDS = (
    "utid",
    "amount",
    "quantity",
    "delivery_method",
    "email",
    "mobile_number",
    "first_name",
    "last_name",
    "street_line_1",
    "street_line_2",
    "city",
    "state_or_province",
    "postal_code",
    "country",
    "delivery_date",
    "campaign",
    "client_row_key",
)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def line_item_ids(valid: pd.DataFrame, account_identifier: str) -> pd.Series:
    """``li-`` + 32 hex digits of SHA-256 over the normalised line content."""
    parts = [
        valid[f].astype("str").str.lower() if f != "utid" else valid[f].astype("str")
        for f in LINE_FIELDS
    ]
    content = parts[0]
    for part in parts[1:]:
        content = content + "\x1f" + part
    prefix = account_identifier + "\x1e"
    return pd.Series(
        ["li-" + _digest(prefix + c)[:32] for c in content], index=valid.index, dtype="str"
    )


def batch_id(line_ids: list[str], account_identifier: str) -> str:
    """The batch: what is being sent, in which account (order of rows does not matter)."""
    return "b" + _digest(account_identifier + "\n" + "\n".join(sorted(line_ids)))[:23]


def order_ref(batch: str, chunk_index: int) -> str:
    """``externalRefID`` of the batch's ``chunk_index``-th order."""
    return f"rw-{batch}-{chunk_index:05d}"


def action_id(account: str, action: str, line: str, values: list[str]) -> str:
    """``ac-`` + 32 hex digits of SHA-256 over the account, the action, the line (Tango's
    reference line id) and the new values it takes."""
    content = "\x1f".join([account, str(action), line, *values])
    return "ac-" + _digest(content)[:32]


def actions_batch(ids: list[str], account_identifier: str) -> str:
    """A run of actions: which actions, in which account (order of rows does not matter)."""
    return "a" + _digest(account_identifier + "\n" + "\n".join(sorted(ids)))[:23]
