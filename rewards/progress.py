"""Progress of long steps, for whoever watches: ``rewards run`` draws a bar on a terminal.

The steps call :func:`report`; nothing listens unless a sink is installed with
:func:`watching` (the Prefect UI has its own progress artifact)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Sink = Callable[[str, int, int], None]
_sinks: list[Sink] = []


def report(step: str, done: int, total: int) -> None:
    for sink in list(_sinks):
        sink(step, done, total)


@contextmanager
def watching(sink: Sink) -> Iterator[Sink]:
    _sinks.append(sink)
    try:
        yield sink
    finally:
        _sinks.remove(sink)


class TerminalBar:
    """``orders finished [##########..........] 12/24 (50%)``, redrawn in place; silent when
    the stream is not a terminal (a log file gets the flow's log lines instead)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self._step: str | None = None

    def __call__(self, step: str, done: int, total: int) -> None:
        if not self.stream.isatty():
            return
        if self._step not in (None, step):
            self.stream.write("\n")  # a new step starts on its own line
        self._step = step
        share = done / total if total else 1.0
        filled = round(self.width * share)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{step} [{bar}] {done}/{total} ({share:.0%})")
        if done >= total:
            self.stream.write("\n")
            self._step = None
        self.stream.flush()
