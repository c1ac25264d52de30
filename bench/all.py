"""Every benchmark, then one table of their headline figures with the machine they ran on
(what ``make bench`` prints). Each script's own output comes first, as it prints it.

    .venv/bin/python bench/all.py [--quick]

``--quick``: 100,000 rows end to end instead of 10,000 / 100,000 / 1,000,000 (the million
takes about ten minutes).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.figures import read  # noqa: E402


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    model = platform.processor() or platform.machine()
    for line in (
        Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    ):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return (
        f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = ["100000"] if args.quick else ["10000", "100000", "1000000"]
    scripts = [
        ["bench/validate_1m.py"],
        ["bench/e2e.py", "--rows", *rows],
        ["bench/report_step.py", "--rows", "100000"],
        ["bench/webhook_latency.py", "--orders", "100"],
    ]
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as out:
        figures_file = out.name
    env = {**os.environ, "BENCH_FIGURES": figures_file}
    failed = []
    for script in scripts:
        print(f"\n$ python {' '.join(script)}", flush=True)
        if subprocess.run([sys.executable, *script], cwd=ROOT, env=env, check=False).returncode:
            failed.append(script[0])
    figures = read(figures_file)
    os.unlink(figures_file)

    print(f"\nmachine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end")
    width = max((len(f.benchmark) for f in figures), default=10)
    print(f"{'benchmark':<{width}}  {'figure':<28} {'value':>10} {'bar':>10}  met")
    for f in figures:
        bar = "" if f.bar is None else f"{'<=' if f.lower_is_better else '>='} {f.bar:g}"
        met = {True: "yes", False: "NO", None: ""}[f.met]
        value = f"{f.value:,.0f}" if float(f.value).is_integer() else f"{f.value:,.2f}"
        print(f"{f.benchmark:<{width}}  {f.figure:<28} {value:>10} {bar:>10}  {met}")
    if failed:
        print(f"failed: {', '.join(failed)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
