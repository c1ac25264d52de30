"""End to end: N generated rows through `rewards run` (the flow, on a real Prefect server) and
through the same steps without Prefect (`python -m bench.plain`), each in a process of its
own, against the sandbox in a process of its own (zero fulfilment latency). Prints, for each:
wall time, the process's CPU seconds and peak RSS, the sandbox's CPU seconds, and the HTTP
requests the sandbox received.

    .venv/bin/python bench/e2e.py [--rows 10000 100000] [--chunk 100]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass
class Measured:
    wall: float
    cpu: float  # user + system of the process (and its children)
    peak_mib: float
    sandbox_cpu: float
    requests: int
    exit_code: int
    tail: str


def _cpu_of(pid: int) -> float:
    """User + system seconds of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def measure(command: list[str], env: dict[str, str], sandbox: subprocess.Popen, admin) -> Measured:
    sandbox_before = _cpu_of(sandbox.pid)
    requests_before = admin.get("/stats").json()["requests"]["received"]
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    out = proc.stdout.read()  # before waiting: a full pipe would block it
    _, status, usage = os.wait4(proc.pid, 0)  # this process's own CPU and peak memory
    wall = time.perf_counter() - start
    return Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_mib=usage.ru_maxrss / 1024,
        sandbox_cpu=_cpu_of(sandbox.pid) - sandbox_before,
        requests=admin.get("/stats").json()["requests"]["received"] - requests_before,
        exit_code=os.waitstatus_to_exitcode(status),
        tail=out.decode(errors="replace").strip().splitlines()[0][:160] if out else "",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000])
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument(
        "--only", choices=["flow", "plain"], default=None, help="measure one of the two"
    )
    args = parser.parse_args()

    from bench.generate import generate
    from proof.prefect_server import prefect_server

    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    with prefect_server(work / "prefect") as api:
        env = {
            **os.environ,
            "PREFECT_API_URL": api,
            "PREFECT_HOME": str(work / "prefect"),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "REWARDS_REPORTS_DIR": str(work / "reports"),
            "REWARDS_SOURCE_ROOTS": str(work),
        }
        for rows in args.rows:
            source = generate(
                work / f"rows{rows}.csv", rows, seed=rows, campaign="bench", bad_rate=0
            )
            chunk = ["--chunk", str(args.chunk)]
            commands = {  # each on a sandbox and a ledger of its own: neither pays for the other
                "flow": [sys.executable, "-m", "deployments.cli", "run", str(source), *chunk],
                "plain": [sys.executable, "-m", "bench.plain", str(source), *chunk],
            }
            measured = {
                name: _on_fresh_sandbox(work / f"{name}{rows}", command, env)
                for name, command in commands.items()
                if args.only in (None, name)
            }
            if args.only:
                _print_one(rows, args.chunk, args.only, measured[args.only])
            else:
                _print(rows, args.chunk, measured["flow"], measured["plain"])
            _record(rows, measured)


def _on_fresh_sandbox(folder: Path, command: list[str], env: dict[str, str]) -> Measured:
    from sandbox.server import admin_client, free_port

    folder.mkdir()
    port = free_port()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--db", str(folder / "sb.db")],
        cwd=ROOT,
        env={**os.environ, "SANDBOX_FULFIL_LATENCY_S": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/sandbox/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        admin = admin_client(url)
        admin.post("/accounts/sandbox-usd/fund", json={"amount": 10**9}).raise_for_status()
        tango = {
            "TANGO_BASE_URL": url + "/raas/v2",
            "TANGO_PLATFORM_NAME": "sandbox-platform",
            "TANGO_PLATFORM_KEY": "sandbox-platform-key",
            "TANGO_CUSTOMER_IDENTIFIER": "sandbox-customer",
            "TANGO_ACCOUNT_IDENTIFIER": "sandbox-usd",
            "REWARDS_LEDGER_URL": f"sqlite:///{folder / 'ledger.db'}",
        }
        return measure(command, {**env, **tango}, sandbox, admin)
    finally:
        sandbox.terminate()
        sandbox.wait(30)


NAMES = {"flow": "flow (rewards run)", "plain": "same steps, no Prefect"}
# the bars: (wall seconds, peak MiB) of the flow at these sizes
BARS = {100_000: (60.0, 1024.0), 1_000_000: (600.0, 2048.0)}
# Prefect's share is held to its bar at 100,000 rows: at 10,000 its fixed cost (a flow run
# and its task runs, the run's page) is most of the difference
SHARE_BAR = {100_000: 1.15}


def _record(rows: int, measured: dict[str, Measured]) -> None:
    from bench.figures import record

    wall_bar, peak_bar = BARS.get(rows, (None, None))
    if flow := measured.get("flow"):
        name = f"{rows:,} rows end to end (flow)"
        record(name, "wall s", flow.wall, wall_bar)
        record(name, "CPU s", flow.cpu)
        record(name, "peak MiB", flow.peak_mib, peak_bar)
        record(name, "sandbox CPU s", flow.sandbox_cpu)
        record(name, "requests", flow.requests)
        if plain := measured.get("plain"):
            record(name, "Prefect's share, wall x", flow.wall / plain.wall, SHARE_BAR.get(rows))


def _print_one(rows: int, chunk: int, which: str, m: Measured) -> None:
    print(f"\n{rows:,} rows, {chunk} per order")
    _table([(NAMES[which], m)])


def _print(rows: int, chunk: int, flow: Measured, plain: Measured) -> None:
    print(f"\n{rows:,} rows, {chunk} per order")
    _table([(NAMES["flow"], flow), (NAMES["plain"], plain)])
    print(f"Prefect's share: {flow.wall / plain.wall:.2f}x wall, {flow.cpu / plain.cpu:.2f}x CPU")


def _table(rows: list[tuple[str, Measured]]) -> None:
    print(
        f"{'':22} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} {'sandbox CPU s':>14} {'requests':>9}"
    )
    for name, m in rows:
        print(
            f"{name:22} {m.wall:>8.1f} {m.cpu:>8.1f} {m.peak_mib:>9.0f} {m.sandbox_cpu:>14.1f} "
            f"{m.requests:>9}   exit {m.exit_code}: {m.tail}"
        )


if __name__ == "__main__":
    main()
