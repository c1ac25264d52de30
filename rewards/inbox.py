"""The inbox: spreadsheets dropped in a folder, each taken once.

A file is taken when it has settled (unchanged for ``settle_seconds``: a half-copied file is
left for the next look), by its content hash, not its name: the same content uploaded again
under another name is recognised. Taken files move to ``processed/`` (so a file is never
picked up twice), keeping the hash in the name; the registry lives in the ledger database.
Each upload has a kind, from its header: an actions file (``action`` and a line column, see
:mod:`rewards.actions`) or recipients (anything else: the sending flow says what is wrong).

Only plain files are taken: a link (``inbox/x.csv -> /etc/passwd``), a file with other names
(a hard link), a device or a pipe is never followed or read; it is set aside in
``processed/refused/`` with a log line, so it is refused once, not at every look.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Column, Float, MetaData, String, Table, Text, create_engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .columns import is_actions_sheet
from .errors import InputError
from .ledger import add_columns, create_tables
from .reading import headers
from .sources import confine

SPREADSHEETS = {".csv", ".xlsx", ".xlsm", ".tsv", ".txt"}
log = logging.getLogger(__name__)
_meta = MetaData()
uploads = Table(
    "uploads",
    _meta,
    Column("sha256", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("seen_at", String(40), nullable=False),
    Column("announced_at", Float),  # epoch seconds of the last announcement
    Column("run_id", String(40)),  # the run that took it (None: none seen yet)
    Column("kind", String(20)),  # UploadKind (None: written before kinds, recipients)
)


class UploadKind(StrEnum):
    RECIPIENTS = "recipients"  # starts fulfil-rewards
    ACTIONS = "actions"  # starts manage-rewards


def kind_of(path: Path) -> UploadKind:
    """An actions file by its header; anything else (a file that cannot be read too) goes
    to the sending flow, which says what is wrong with it."""
    try:
        found = headers(path)
    except (InputError, OSError):
        return UploadKind.RECIPIENTS
    return UploadKind.ACTIONS if is_actions_sheet(found) else UploadKind.RECIPIENTS


def _kept_as(sha: str, name: str) -> str:
    """A taken file's name under processed/: its content's hash first (two uploads of one
    name do not collide)."""
    return f"{sha[:12]}-{name}"


def uploaded_name(path: Path) -> str:
    """The name a file had when it was dropped in the inbox (what a person recognises)."""
    if path.parent.name in ("processed", "duplicates"):
        return re.sub(r"^[0-9a-f]{12}-", "", path.name)
    return path.name


@dataclass(frozen=True)
class Upload:
    path: Path  # where the file now is (under processed/)
    name: str  # its name when it landed
    sha256: str
    duplicate: bool  # the same content was taken before
    kind: UploadKind = UploadKind.RECIPIENTS


def _digest(path: Path) -> str | None:
    """The file's SHA-256, read without following a link (None if it is one now: it was
    swapped since it was looked at)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if _refusal(os.fstat(fd)):
            return None
        h = hashlib.sha256()
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _refusal(info: os.stat_result) -> str | None:
    """Why the inbox will not take what ``info`` describes (from lstat: links not followed)."""
    if stat.S_ISLNK(info.st_mode):
        return "a link"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_nlink > 1:
        return "a file with other names (a hard link)"
    return None


def settled(path: Path, settle_seconds: float) -> bool:
    """Unchanged for ``settle_seconds`` and not growing while we look."""
    first = path.lstat()
    if time.time() - first.st_mtime < settle_seconds:
        return False
    time.sleep(0.05)
    second = path.lstat()
    return (first.st_size, first.st_mtime) == (second.st_size, second.st_mtime)


class Inbox:
    def __init__(self, folder: Path, ledger_url: str, settle_seconds: float = 5.0) -> None:
        # absolute: the registry's paths are compared with runs' source paths, which may have
        # been given from another folder
        self.folder = folder.absolute()
        self.processed = folder / "processed"
        self.settle_seconds = settle_seconds
        self.engine = create_engine(ledger_url)
        create_tables(_meta, self.engine)  # several workers may create it at once
        add_columns(
            self.engine,
            (
                ("uploads", "announced_at", "FLOAT"),
                ("uploads", "run_id", "VARCHAR(40)"),
                ("uploads", "kind", "VARCHAR(20)"),
            ),
        )

    def candidates(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        named = sorted(
            p
            for p in self.folder.iterdir()
            if p.suffix.lower() in SPREADSHEETS and not p.name.startswith((".", "~$"))
        )
        return [p for p in named if self._plain(p)]

    def _plain(self, path: Path) -> bool:
        """A plain file; anything else is set aside, with a log line, and not taken."""
        try:
            why = _refusal(path.lstat())
        except FileNotFoundError:
            return False
        if why is None:
            return True
        log.warning("inbox: %s is %s; not taken, set aside in processed/refused", path.name, why)
        if (processed := self._processed()) is not None:
            refused = processed / "refused"
            refused.mkdir(exist_ok=True)
            # rename moves a link itself, never what it points at; another worker may be first
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, refused / f"{int(time.time())}-{path.name}")
        return False

    def _processed(self) -> Path | None:
        """processed/, made if need be; None (logged) if it leads out of the inbox."""
        self.processed.mkdir(parents=True, exist_ok=True)
        try:
            return confine(self.processed, [self.folder])
        except InputError:
            log.warning("inbox: processed/ leads out of the inbox; nothing is taken")
            return None

    def take(self, path: Path) -> Upload | None:
        """Claim one settled file: move it under processed/ and record its hash. None while
        it is still being written (or if another worker took it first)."""
        try:
            if not settled(path, self.settle_seconds):
                return None
        except FileNotFoundError:
            return None
        sha = _digest(path)
        if sha is None:  # swapped for a link or a device since it was listed
            log.warning("inbox: %s changed into something other than a file; not taken", path.name)
            return None
        if self._processed() is None:
            return None
        target = self.processed / _kept_as(sha, path.name)
        kind = kind_of(path)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        with self.engine.begin() as conn:
            inserted = conn.execute(
                dialect.insert(uploads)
                .values(
                    sha256=sha,
                    name=path.name,
                    path=str(target),
                    seen_at=datetime.now(UTC).isoformat(),
                    kind=kind,
                )
                .on_conflict_do_nothing()
            ).rowcount
        duplicate = not inserted
        if duplicate:
            target = self.processed / "duplicates" / _kept_as(sha, path.name)
            target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.move(str(path), target)
        except FileNotFoundError:
            return None  # another worker moved it
        return Upload(target.resolve(), path.name, sha, duplicate, kind)

    def scan(self) -> list[Upload]:
        taken = [self.take(p) for p in self.candidates()]
        return [u for u in taken if u is not None]

    # --- after the announcement: an upload is done with only once a run took it ------------

    def announced(self, upload: Upload) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(uploads)
                .where(uploads.c.sha256 == upload.sha256)
                .values(announced_at=time.time())
            )

    def started(self, upload: Upload, run_id: str) -> None:
        """A run has the upload (the first run to claim it keeps it)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(uploads)
                .where(uploads.c.sha256 == upload.sha256, uploads.c.run_id.is_(None))
                .values(run_id=run_id)
            )

    def claim(self, path: Path, run_id: str) -> str | None:
        """Make ``run_id`` the one run that sends the upload at ``path``; the id of the run
        that has it already, if another has (an upload announced twice starts two runs: only
        the first may send or ask for approval). None too for a file that is not an upload."""
        sha = _digest(path)
        if sha is None:
            return None
        with self.engine.begin() as conn:
            took = conn.execute(
                update(uploads)
                .where(
                    uploads.c.sha256 == sha,
                    (uploads.c.run_id.is_(None)) | (uploads.c.run_id == run_id),
                )
                .values(run_id=run_id)
            ).rowcount
            if took:
                return None
            holder = conn.execute(select(uploads.c.run_id).where(uploads.c.sha256 == sha)).first()
        return None if holder is None else str(holder.run_id)

    def waiting(self, older_than: float) -> list[Upload]:
        """Uploads announced at least ``older_than`` seconds ago that no run has taken yet
        (whose file is still there to be taken)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(uploads).where(
                    uploads.c.run_id.is_(None),
                    uploads.c.announced_at.is_not(None),
                    uploads.c.announced_at <= time.time() - older_than,
                )
            ).all()
        return [
            Upload(
                Path(r.path).absolute(), r.name, r.sha256, False, UploadKind(r.kind or "recipients")
            )
            for r in rows
            if Path(r.path).is_file()
        ]
