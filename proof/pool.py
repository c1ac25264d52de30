"""A process work pool with real workers, for tests and benchmarks: ``rewards deploy`` to
register the deployments, then ``prefect worker start`` processes, stopped afterwards."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def deploy(pool: str, per_second: float, env: dict[str, str]) -> None:
    """Create the pool, the shared ``tango-api`` limit and the deployments."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "deployments.cli",
            "deploy",
            "--pool",
            pool,
            "--per-second",
            str(per_second),
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )


@contextmanager
def workers(
    pool: str, count: int, env: dict[str, str], *, limit: int = 1, prefix: str = "worker"
) -> Iterator[list[subprocess.Popen]]:
    """``count`` workers on ``pool``, each running at most ``limit`` flow runs at once."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prefect",
                "worker",
                "start",
                "--pool",
                pool,
                "--name",
                f"{prefix}-{i}",
                "--limit",
                str(limit),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]
    try:
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
