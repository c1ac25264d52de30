"""The inbox: spreadsheets dropped in a folder, each taken once.

A file is taken when it has settled (unchanged for ``settle_seconds``: a half-copied file is
left for the next look), by its content hash, not its name: the same content uploaded again
under another name is recognised. Taken files move to ``processed/`` (so a file is never
picked up twice), keeping the hash in the name; the registry lives in the ledger database.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, MetaData, String, Table, Text, create_engine
from sqlalchemy.dialects import postgresql, sqlite

from .ledger import create_tables

SPREADSHEETS = {".csv", ".xlsx", ".xlsm", ".tsv", ".txt"}
_meta = MetaData()
uploads = Table(
    "uploads",
    _meta,
    Column("sha256", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("seen_at", String(40), nullable=False),
)


@dataclass(frozen=True)
class Upload:
    path: Path  # where the file now is (under processed/)
    name: str  # its name when it landed
    sha256: str
    duplicate: bool  # the same content was taken before


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def settled(path: Path, settle_seconds: float) -> bool:
    """Unchanged for ``settle_seconds`` and not growing while we look."""
    first = path.stat()
    if time.time() - first.st_mtime < settle_seconds:
        return False
    time.sleep(0.05)
    second = path.stat()
    return (first.st_size, first.st_mtime) == (second.st_size, second.st_mtime)


class Inbox:
    def __init__(self, folder: Path, ledger_url: str, settle_seconds: float = 5.0) -> None:
        self.folder = folder
        self.processed = folder / "processed"
        self.settle_seconds = settle_seconds
        self.engine = create_engine(ledger_url)
        create_tables(_meta, self.engine)  # several workers may create it at once

    def candidates(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(
            p
            for p in self.folder.iterdir()
            if p.is_file()
            and p.suffix.lower() in SPREADSHEETS
            and not p.name.startswith((".", "~$"))
        )

    def take(self, path: Path) -> Upload | None:
        """Claim one settled file: move it under processed/ and record its hash. None while
        it is still being written (or if another worker took it first)."""
        if not path.exists() or not settled(path, self.settle_seconds):
            return None
        sha = _digest(path)
        self.processed.mkdir(parents=True, exist_ok=True)
        target = self.processed / f"{sha[:12]}-{path.name}"
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        with self.engine.begin() as conn:
            inserted = conn.execute(
                dialect.insert(uploads)
                .values(
                    sha256=sha,
                    name=path.name,
                    path=str(target),
                    seen_at=datetime.now(UTC).isoformat(),
                )
                .on_conflict_do_nothing()
            ).rowcount
        duplicate = not inserted
        if duplicate:
            target = self.processed / "duplicates" / f"{sha[:12]}-{path.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.move(str(path), target)
        except FileNotFoundError:
            return None  # another worker moved it
        return Upload(path=target.resolve(), name=path.name, sha256=sha, duplicate=duplicate)

    def scan(self) -> list[Upload]:
        taken = [self.take(p) for p in self.candidates()]
        return [u for u in taken if u is not None]
