"""Test harness: one database per run (SQLite file or a private PostgreSQL schema), migrated
to head, wiped between tests; the same suite runs on both (FIELDSYNC_TEST_DATABASE)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from server import create_app
from server.db import db
from server.migrations.scratch import DEFAULT_PG_URL, scratch_database
from server.models import Base
from tests.factories import Factory

ROOT = Path(__file__).resolve().parent.parent
PG_BASE_URL = os.environ.get("FIELDSYNC_TEST_PG_URL", DEFAULT_PG_URL)
TEST_SECRET = "test-secret-key-0123456789abcdef"


def backend() -> str:
    return os.environ.get("FIELDSYNC_TEST_DATABASE", "sqlite")


def postgresql_only(reason: str):
    """Mark a test of something only PostgreSQL has: it runs in the PostgreSQL leg."""
    return pytest.mark.skipif(backend() != "postgresql", reason=reason)


def pytest_report_header(config) -> str:
    return f"fieldsync test database: {backend()}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    with scratch_database(backend(), tmp_path_factory.mktemp("db"), prefix="fs_test",
                          pg_url=PG_BASE_URL) as url:
        yield url


@pytest.fixture(scope="session")
def media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


def test_settings(database_url: str, media_root: Path) -> dict:
    """Settings every test app and test server share (cheap password hashes, no pull limit)."""
    return {
        "testing": True,
        "database_url": database_url,
        "media_root": str(media_root),
        "secret_key": TEST_SECRET,
        "password_hash_method": "pbkdf2:sha256:1000",
        "pull_min_interval": 0.0,
    }


@pytest.fixture(scope="session")
def app(database_url, media_root):
    application = create_app(test_settings(database_url, media_root))
    wipe(application)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _wipe_database(request):
    """Every test starts from an empty database at migration head (the `app` fixture empties
    it once before the first test too: the migration seeds the reference lists)."""
    yield
    if "app" not in request.fixturenames:
        return
    wipe(request.getfixturevalue("app"))


def wipe(application) -> None:
    """Empty every table but the feed's state row, which goes back to position 0."""
    with application.app_context():
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            # DELETE, not TRUNCATE: on tables this small it is far cheaper per test.
            for name in tables:
                if name != "feed_state":
                    conn.execute(text(f"DELETE FROM {name}"))
            conn.execute(text("UPDATE feed_state SET last_pos = 0, pruned_below = 0"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def factory(app) -> Factory:
    return Factory(app)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(database_url: str, media_root: Path, **extra: str) -> dict[str, str]:
    settings = test_settings(database_url, media_root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDSYNC_")}
    env.update({
        "FIELDSYNC_TESTING": "1",
        "FIELDSYNC_DATABASE_URL": settings["database_url"],
        "FIELDSYNC_MEDIA_ROOT": settings["media_root"],
        "FIELDSYNC_SECRET_KEY": settings["secret_key"],
        "FIELDSYNC_PASSWORD_HASH": settings["password_hash_method"],
        "FIELDSYNC_PULL_MIN_INTERVAL": "0",
        **extra,
    })
    return env


@pytest.fixture
def gunicorn_server(database_url, media_root, tmp_path):
    """Start a real gunicorn (2 workers by default) on a free loopback port; yields its URL."""
    processes: list[subprocess.Popen] = []

    def start(workers: int = 2, **env: str) -> str:
        port = _free_port()
        log = open(tmp_path / f"gunicorn-{port}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
             f"127.0.0.1:{port}", "--graceful-timeout", "2", "wsgi:app"],
            cwd=ROOT, env=server_environment(database_url, media_root, **env),
            stdout=log, stderr=subprocess.STDOUT,
        )
        process.log_file = log
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log_text = (tmp_path / f"gunicorn-{port}.log").read_text()
                raise RuntimeError(f"gunicorn exited: {log_text}")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    return url
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready in 30 s")

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        process.log_file.close()
