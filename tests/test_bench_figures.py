"""`make bench`'s one table: the figures each script records, and which bars they meet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.figures import Figure, read

ROOT = Path(__file__).resolve().parents[1]


def test_a_script_records_its_figures_where_bench_all_reads_them(tmp_path: Path) -> None:
    figures = tmp_path / "figures.jsonl"
    done = subprocess.run(
        [sys.executable, "bench/report_step.py", "--rows", "2000"],
        cwd=ROOT,
        env={"BENCH_FIGURES": str(figures), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    recorded = read(str(figures))
    assert [f.figure for f in recorded] == [
        "who holds each line s",
        "this batch's lines s",
        "this batch's orders s",
        "reconcile s",
    ]
    assert all(f.benchmark == "report step, 2,000 rows" and f.value > 0 for f in recorded)


def test_a_bar_is_met_on_its_side_only() -> None:
    assert Figure("b", "wall s", 59.0, 60.0).met is True
    assert Figure("b", "wall s", 61.0, 60.0).met is False
    assert Figure("b", "pandera s / ours", 0.9, 1.0, lower_is_better=False).met is False
    assert Figure("b", "requests", 2002.0).met is None
