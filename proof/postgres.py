"""Throw-away PostgreSQL databases on the machine's server (trust auth) for tests and benches."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

ADMIN_POSTGRES = os.environ.get(
    "REWARDS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


@contextmanager
def fresh_database(driver: str = "psycopg") -> Iterator[str]:
    """A new database, as a SQLAlchemy URL for ``driver``; dropped afterwards."""
    import psycopg

    name = f"rewards_test_{uuid4().hex[:8]}"
    try:
        with psycopg.connect(ADMIN_POSTGRES, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {ADMIN_POSTGRES} (set REWARDS_TEST_POSTGRES): {exc}"
        ) from exc
    base = ADMIN_POSTGRES.rsplit("/", 1)[0].replace("postgresql://", f"postgresql+{driver}://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN_POSTGRES, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
