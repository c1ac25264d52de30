"""Links to a batch's report files that a browser can open from the run's page, and that stop
working within a day: ``/files/<batch>/<file>?expires=<unix time>&sig=<HMAC>``.

The signature is HMAC-SHA256 (key ``REWARDS_REPORTS_KEY``) over the batch, the file name and
the expiry, compared in constant time: a link cannot be altered to reach another file, and it
is useless after ``expires`` (at most 24 hours after it was made). The files served are the
report's own names in a batch folder, nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import time
from pathlib import Path
from urllib.parse import quote

from .errors import RewardsError

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


KEY_FILE = ".links-key"  # in the reports folder: the key an installation made for itself
MIN_KEY_BYTES = 16
MAKE_KEY = (
    "python -c 'import base64,secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32))"
    ".decode())'"
)


def decode_key(text: str) -> bytes:
    """``REWARDS_REPORTS_KEY`` (URL-safe base64) as bytes; a clear error for anything else."""
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) < MIN_KEY_BYTES:
        raise RewardsError(
            f"REWARDS_REPORTS_KEY is not a key: give at least {MIN_KEY_BYTES} random bytes in "
            f"URL-safe base64, e.g. the output of {MAKE_KEY}"
        )
    return key


def installation_key(reports_dir: Path) -> str:
    """The key this installation made for itself when REWARDS_REPORTS_KEY is not set: kept,
    readable by its owner only, in the reports folder, so the links ``rewards links`` makes
    and those made before ``rewards serve`` restarted still open."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return path.read_text().strip()


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
