"""Throwaway databases at migration head, for the test suite, benchmarks and the simulator.

SQLite: a file in a given folder. PostgreSQL: a private schema (selected through the
connection's `search_path`) in an existing database, so parallel runs never meet and nothing
is left behind.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.migrations import upgrade

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _libpq_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def scratch_database(
    kind: str, folder: Path, *, prefix: str = "fs_scratch", pg_url: str = DEFAULT_PG_URL
) -> Iterator[str]:
    """Yield the URL of an empty database at migration head; dropped afterwards."""
    if kind == "sqlite":
        url = "sqlite:///" + str(Path(folder) / f"{prefix}.db")
        upgrade(url)
        yield url
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}; expected sqlite or postgresql")
    import psycopg

    schema = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(_libpq_url(pg_url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = f"{pg_url}?options=-csearch_path%3D{schema}"
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(_libpq_url(pg_url), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
