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

from .columns import BY_NAME, IDENTITY, Kind


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _content(valid: pd.DataFrame, fields: tuple[str, ...], account: str) -> pd.Series:
    """Each row's normalised ``fields``, joined, after the account: lowered but the reward id
    (this normalisation is part of the identity: changing it needs a new IDENTITY_VERSION)."""
    parts = [
        valid[f].astype("str").str.lower() if f != "utid" else valid[f].astype("str")
        for f in fields
    ]
    content = account + "\x1e" + parts[0]
    for part in parts[1:]:
        content = content + "\x1f" + part
    return content


def line_item_ids(valid: pd.DataFrame, account_identifier: str) -> pd.Series:
    """``li-`` + 32 hex digits of SHA-256 over the normalised line content: the identity's
    columns in their frozen order (rewards.columns.IDENTITY)."""
    content = _content(valid, IDENTITY, account_identifier)
    return pd.Series(["li-" + _digest(c)[:32] for c in content], index=valid.index, dtype="str")


NAMES = tuple(f for f in IDENTITY if BY_NAME[f].kind is Kind.NAME)
# how a person is reached (email, phone, postal address): a row with none of these filled
# has no recipient key
REACH = (Kind.EMAIL, Kind.PHONE, Kind.ADDRESS)
CONTACT = tuple(f for f in IDENTITY if BY_NAME[f].kind in REACH)


def recipient_keys(valid: pd.DataFrame, account_identifier: str) -> pd.Series:
    """``rk-`` + 32 hex digits over the line's content without the recipient's name, for rows
    with a contact (email, phone or street): the same reward to the same inbox, phone or door.
    A corrected spelling of a name makes a new line id; this key finds the line sent before
    under the old spelling (see :meth:`rewards.ledger.Ledger.holders`). Rows without a
    contact (links, codes) have no key (None): there the name is all that tells people
    apart."""
    fields = tuple(f for f in IDENTITY if f not in NAMES)
    content = _content(valid, fields, account_identifier)
    reachable = (valid[list(CONTACT)].astype("str") != "").any(axis=1)
    keys = ["rk-" + _digest(c)[:32] if r else None for c, r in zip(content, reachable, strict=True)]
    return pd.Series(keys, index=valid.index, dtype="object")


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
