"""Links to a batch's report files that a browser can open from the run's page, and that stop
working within a day: ``/files/<batch>/<file>?expires=<unix time>&sig=<HMAC>``.

The signature is HMAC-SHA256 (key ``REWARDS_REPORTS_KEY``) over the batch, the file name and
the expiry, compared in constant time: a link cannot be altered to reach another file, and it
is useless after ``expires`` (at most 24 hours after it was made). The files served are the
report's own names in a batch folder, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from urllib.parse import quote

BATCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
FILES = frozenset(
    f"{stem}.{ext}"
    for stem in (
        "report",
        "rejected_rows",
        "failed_deliveries",
        "warnings",
        "actions_report",
        "rejected_actions",
    )
    for ext in ("csv", "xlsx")
) | {"by_reward.csv", "by_method.csv", "money.csv", "summary.md"}
MAX_HOURS = 24.0


def decode_key(text: str) -> bytes:
    """``REWARDS_REPORTS_KEY`` (URL-safe base64) as bytes."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkError(ValueError):
    """The link is not one this installation made, or no longer valid."""


def _signature(key: bytes, batch: str, name: str, expires: int) -> str:
    mac = hmac.new(key, f"{batch}/{name}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def sign(
    base_url: str, key: bytes, batch: str, name: str, hours: float, now: float | None = None
) -> str:
    """The link to ``name`` of ``batch``, valid for ``hours`` (at most a day)."""
    check(batch, name)
    expires = int((now or time.time()) + min(hours, MAX_HOURS) * 3600)
    sig = _signature(key, batch, name, expires)
    return f"{base_url.rstrip('/')}/files/{quote(batch)}/{quote(name)}?expires={expires}&sig={sig}"


def check(batch: str, name: str) -> None:
    if not BATCH.match(batch) or name not in FILES:
        raise LinkError("no such report file")


def verify(
    key: bytes, batch: str, name: str, expires: int, sig: str, now: float | None = None
) -> None:
    """Raise :class:`LinkError` unless the link was signed with ``key`` and has not expired."""
    check(batch, name)
    if not hmac.compare_digest(_signature(key, batch, name, expires), sig):
        raise LinkError("this link is not valid")
    current = now or time.time()
    if expires < current or expires > current + MAX_HOURS * 3600 + 60:
        raise LinkError("this link has expired: open the run's page again, or run `rewards links`")
