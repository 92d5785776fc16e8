"""A fresh, migrated database per run: a SQLite file in a temp dir or a private PG schema."""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server import migrations

log = logging.getLogger(__name__)

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[str]:
    """Yield the URL of an empty database at migration head; always removed afterwards."""
    if kind == "sqlite":
        url = "sqlite:///" + str(workdir / "bench.db")
        migrations.upgrade(url)
        yield url
        return
    import psycopg

    schema = f"fs_bench_{secrets.token_hex(4)}"
    plain = PG_BASE_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = f"{PG_BASE_URL}?options=-csearch_path%3D{schema}"
        migrations.upgrade(url)
        yield url
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        log.info("dropped schema %s", schema)


@contextmanager
def workspace() -> Iterator[Path]:
    """A temp dir for the SQLite file, media root and logs; removed however the run ends."""
    path = Path(tempfile.mkdtemp(prefix="fieldsync-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
