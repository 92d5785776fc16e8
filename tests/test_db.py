"""The database extension: JSON columns, sessions of a request, pooled connections."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import random
import threading
import time
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from server import json_columns
from server.db import db
from server.json_provider import to_rfc3339
from server.models import Team
from tests.conftest import backend, postgresql_only

#: The module (the `server` package exports the extension under the same name).
db_module = importlib.import_module("server.db")


@pytest.mark.parametrize("text", [
    '{"b": [1, 2.5, -0.0, 1e-400, 9007199254740993], "a": null, "c": "\\u00e9"}',
    '"\\ud800"',  # a lone surrogate: orjson refuses it, the standard library does not
    "[]",
])
def test_json_columns_read_as_the_standard_library_reads_them(text):
    assert json_columns.loads(text) == json.loads(text)


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, None, "\u00e9"], "b": {"nested": True}},
    {0: "marshmallow error keys are integers"},
    {"big": 10**30},  # wider than 64 bits: orjson refuses it, the standard library does not
])
def test_json_columns_write_what_the_standard_library_writes(value):
    assert json.loads(json_columns.dumps(value)) == json.loads(json.dumps(value))


def test_json_columns_refuse_datetimes_as_the_standard_library_does():
    with pytest.raises(TypeError):
        json_columns.dumps({"at": dt.datetime.now(dt.UTC)})


def test_times_are_written_as_before_the_isoformat_shortcut():
    def by_strftime(value: dt.datetime) -> str:
        value = (value.replace(tzinfo=dt.UTC) if value.tzinfo is None
                 else value.astimezone(dt.UTC))
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"

    rng = random.Random(7)
    samples = [dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(999, 12, 31, 23, 59, 59, 999999),
               dt.datetime(2026, 11, 21, 9, 30, 0, 123456, dt.UTC)]
    for _ in range(2000):
        offset = dt.timezone(dt.timedelta(minutes=rng.randint(-900, 900)))
        samples.append(dt.datetime.fromtimestamp(rng.uniform(-6e10, 6e10), offset))
    for value in samples:
        assert to_rfc3339(value) == by_strftime(value)


def test_a_write_request_on_sqlite_authenticates_outside_its_write_lock(app):
    with app.test_request_context("/api/v1/sync/push", method="POST"):
        with db.auth_session() as session:
            separate = "db_session" not in db_module.g
            assert session is not None
        if db.is_sqlite:
            assert separate
        else:
            assert not separate and session is db.session


def test_a_read_request_authenticates_through_its_own_session(app):
    with app.test_request_context("/api/v1/orders"), db.auth_session() as session:
        assert session is db.session


@contextmanager
def _one_pooled_connection(app, database_url):
    """The app's pool reduced to the one connection requests use; yields a function that
    kills the backend behind it, as a database restart would."""
    with app.app_context():
        engine = db.engine
    engine.dispose()
    pids = []

    def note_pid(dbapi_connection, _record, _proxy):
        pids.append(dbapi_connection.info.backend_pid)

    def kill() -> None:
        plain = database_url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pids[-1]])

    event.listen(engine, "checkout", note_pid)
    try:
        yield kill
    finally:
        event.remove(engine, "checkout", note_pid)


@postgresql_only("PostgreSQL pool")
def test_a_connection_killed_while_idle_is_replaced_before_a_request_uses_it(
        app, client, factory, database_url, monkeypatch):
    headers = factory.staff_headers("dispatcher")
    with _one_pooled_connection(app, database_url) as kill_backend:
        assert client.get("/api/v1/orders", headers=headers).status_code == 200
        kill_backend()
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)

        assert client.get("/api/v1/orders", headers=headers).status_code == 200


@postgresql_only("PostgreSQL pool")
def test_a_connection_in_use_a_moment_ago_is_not_pinged(app, client, factory, monkeypatch):
    headers = factory.staff_headers("dispatcher")
    with app.app_context():
        db.engine.dispose()  # from here on the pool holds the one connection the requests use
        dialect = db.engine.dialect
    pings = []
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))

    assert client.get("/api/v1/orders", headers=headers).status_code == 200
    assert client.get("/api/v1/orders", headers=headers).status_code == 200
    assert pings == []

    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert client.get("/api/v1/orders", headers=headers).status_code == 200
    assert len(pings) == 1


@postgresql_only("PostgreSQL pool")
def test_a_connection_lost_inside_the_ping_window_is_a_503_and_the_retry_succeeds(
        app, client, factory, database_url, monkeypatch):
    headers = factory.staff_headers("dispatcher")
    with _one_pooled_connection(app, database_url) as kill_backend:
        assert client.get("/api/v1/orders", headers=headers).status_code == 200
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 3600.0)  # never pinged
        kill_backend()

        lost = client.get("/api/v1/orders", headers=headers)
        assert lost.status_code == 503
        assert lost.headers["Retry-After"] == "1"
        assert lost.get_json()["code"] == "service_unavailable"
        assert client.get("/api/v1/orders", headers=headers).status_code == 200


def test_a_non_durable_transaction_commits_and_relaxes_only_its_own_commit(app):
    postgres = backend() == "postgresql"
    with app.app_context():
        with db.transaction(durable=False) as session:
            session.add(Team(name="Bookkeeping crew", base_lat=28.6, base_lon=115.8, skills=[]))
            if postgres:
                assert session.execute(text("SHOW synchronous_commit")).scalar() == "off"
        with db.transaction() as session:
            assert session.scalar(select(Team.id).where(Team.name == "Bookkeeping crew"))
            if postgres:
                assert session.execute(text("SHOW synchronous_commit")).scalar() == "on"


def _sqlite_writer(engine):
    return engine.connect().execution_options(sqlite_begin="IMMEDIATE")


def test_a_sqlite_writer_waits_for_the_write_lock_and_takes_it_after_the_commit(tmp_path):
    engine = db_module.make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    order: list[str] = []
    first = _sqlite_writer(engine)
    first.begin()
    first.exec_driver_sql("CREATE TABLE t (x INTEGER)")

    def second_writer() -> None:
        with _sqlite_writer(engine) as conn, conn.begin():
            order.append("second has the lock")
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")

    racer = threading.Thread(target=second_writer)
    racer.start()
    time.sleep(0.2)
    order.append("first commits")
    first.commit()
    first.close()
    racer.join(timeout=10)
    assert order == ["first commits", "second has the lock"]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT x FROM t").scalars().all() == [2]
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    engine.dispose()


def test_a_sqlite_writer_gives_up_after_the_busy_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engine = db_module.make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    holder = _sqlite_writer(engine)
    holder.begin()
    started = time.monotonic()
    with pytest.raises(OperationalError, match="locked"), _sqlite_writer(engine) as conn:
        conn.begin()
    assert 0.2 <= time.monotonic() - started < 5
    holder.rollback()
    holder.close()
    engine.dispose()
