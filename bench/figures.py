"""The figures a bench script measured, for ``bench/all.py``'s one table.

Each script prints its own table; where ``BENCH_FIGURES`` names a file (``bench/all.py`` sets
it), it also appends each headline figure there as a JSON line.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Figure:
    benchmark: str  # what was measured ("100,000 rows end to end")
    figure: str  # which number ("wall s", "peak MiB", "p95 s")
    value: float
    bar: float | None = None  # the bar, where it sets one
    lower_is_better: bool = True

    @property
    def met(self) -> bool | None:
        if self.bar is None:
            return None
        return self.value <= self.bar if self.lower_is_better else self.value >= self.bar


def record(
    benchmark: str,
    figure: str,
    value: float,
    bar: float | None = None,
    lower_is_better: bool = True,
) -> None:
    """Append one figure to ``$BENCH_FIGURES`` (nothing when it is not set)."""
    path = os.environ.get("BENCH_FIGURES")
    if not path:
        return
    line = json.dumps(asdict(Figure(benchmark, figure, value, bar, lower_is_better)))
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


def read(path: str) -> list[Figure]:
    with open(path, encoding="utf-8") as lines:
        return [Figure(**json.loads(line)) for line in lines if line.strip()]
