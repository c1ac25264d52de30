"""``rewards watch``: announce spreadsheets within seconds of landing (instead of hourly)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from flows.scan_inbox import announce, follow_up
from rewards.inbox import Inbox

log = logging.getLogger("rewards")


def watch(
    folder: Path,
    ledger_url: str,
    settle_seconds: float = 2.0,
    stop: threading.Event | None = None,
    reannounce_after_seconds: float = 120,
) -> None:
    from watchfiles import watch as watch_files

    inbox = Inbox(folder, ledger_url, settle_seconds)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Watching {folder} for spreadsheets (Ctrl-C to stop)", flush=True)
    # the first pass takes what is already there; then each change, once files settle
    for _ in _ticks(watch_files, folder, settle_seconds, stop):
        for upload in inbox.scan():
            if upload.duplicate:
                log.warning("%s repeats a file taken before; set aside", upload.name)
                continue
            announce(upload)
            inbox.announced(upload)
            print(f"announced {upload.name} -> {upload.path}", flush=True)
        follow_up(inbox, reannounce_after_seconds, lambda line: print(line, flush=True))


def _ticks(
    watch_files: Callable[..., Iterator[object]],
    folder: Path,
    settle_seconds: float,
    stop: threading.Event | None,
) -> Iterator[None]:
    yield None
    # rust_timeout makes watch yield periodically, so files still settling are retried
    for _changes in watch_files(
        folder,
        recursive=False,
        yield_on_timeout=True,
        rust_timeout=int(settle_seconds * 1000) + 500,
        stop_event=stop,
    ):
        yield None
