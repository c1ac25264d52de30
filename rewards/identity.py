"""The one place that derives every identifier sent to Tango.

``externalRefLineItemID`` comes from what the line *is* (account, recipient, reward, amount,
quantity, method, date, campaign, client row key), so the same reward to the same person is
recognised in any file, and a deliberate repeat needs another campaign or client row key.
``externalRefID`` comes from the batch (the hash of its line ids) and the chunk index, so a
rerun of the same work re-sends the same ids and Tango's idempotency returns the originals.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from .columns import IDENTITY


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def line_item_ids(valid: pd.DataFrame, account_identifier: str) -> pd.Series:
    """``li-`` + 32 hex digits of SHA-256 over the normalised line content: the identity's
    columns in their frozen order, lowered but the reward id (this normalisation is part of
    the identity: changing it needs a new ``IDENTITY_VERSION`` too)."""
    parts = [
        valid[f].astype("str").str.lower() if f != "utid" else valid[f].astype("str")
        for f in IDENTITY
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
