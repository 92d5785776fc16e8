"""The database extension: one engine per app, one session and one transaction per request.

Views and domain code only flush; the request commits once at the end (or rolls back on an
error response). On SQLite a write request takes the write lock up front (`BEGIN IMMEDIATE`)
so two writers queue on `busy_timeout` instead of failing to upgrade a read lock.

A request checks out one connection: authentication reads through the request's session
(`auth_session`), except on a SQLite write, which would otherwise hold the write lock while
the token is checked.
"""

from __future__ import annotations

import functools
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import create_engine, event, exc, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from server import json_columns

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: How long a SQLite statement waits for a lock held by another connection.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: How often a SQLite writer tries again for the write lock.
WRITE_LOCK_RETRY_SECONDS = 0.001
#: A pooled PostgreSQL connection idle longer than this is pinged before use.
PING_AFTER_IDLE_SECONDS = 0.5


def make_engine(url: str, *, sqlite_synchronous: str = "FULL") -> Engine:
    """Create an engine with the pragmas and pool settings Fieldsync relies on."""
    json_codec = {"json_serializer": json_columns.dumps, "json_deserializer": json_columns.loads}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               **json_codec)
        _configure_sqlite(engine, sqlite_synchronous)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20, **json_codec)
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a pooled connection at checkout unless it was in use less than
    `PING_AFTER_IDLE_SECONDS` ago; one that fails is replaced before the request sees it.

    `pool_pre_ping` pings on every checkout: a round trip on every request, about a fifth of
    an empty pull. A connection that answered a moment ago is alive unless the database went
    away in that very moment (HikariCP's `aliveBypassWindowMs` skips its check on the same
    grounds, 500 ms by default). Then the one request that draws it fails, and its failure
    invalidates the whole pool (SQLAlchemy's disconnect handling), so the requests after it
    get fresh connections. Connections that sat idle, those a restart, a failover or a
    firewall's idle timeout kills unnoticed, are always pinged.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")  # none on a fresh connection
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError("a pooled connection failed its ping") from error


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised on every connect
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE":
            _begin_immediate(conn.connection.dbapi_connection)
        else:
            # On the driver's connection: through SQLAlchemy's statement machinery this BEGIN
            # cost an empty pull a tenth of its CPU.
            conn.connection.dbapi_connection.execute(f"BEGIN {mode}")


def _begin_immediate(dbapi_connection) -> None:
    """Take SQLite's write lock, trying again every millisecond while another writer holds it.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ms... between tries, so a writer
    that arrives just after another one usually sleeps well past its commit while its worker
    serves nothing. The wait is bounded by the same busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    # As SQLAlchemy would have raised it, for the error handlers.
                    raise exc.OperationalError("BEGIN IMMEDIATE", None, error) from error
            time.sleep(WRITE_LOCK_RETRY_SECONDS)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


@dataclass
class _BoundDatabase:
    engine: Engine
    session_factory: sessionmaker[Session]
    is_sqlite: bool


class Database:
    """Flask extension handing out the request's session; the engine lives on each app."""

    def __init__(self) -> None:
        self._session_hooks: list[tuple[str, Callable[..., None]]] = []

    def init_app(self, app: Flask) -> None:
        settings = app.config["SETTINGS"]
        engine = make_engine(settings.database_url)
        factory = sessionmaker(engine, expire_on_commit=False)
        for name, hook in self._session_hooks:
            event.listen(factory, name, hook)
        app.extensions["fieldsync_db"] = _BoundDatabase(engine, factory,
                                                        engine.dialect.name == "sqlite")
        app.teardown_appcontext(self._close_session)

    def listen(self, event_name: str, hook: Callable[..., None]) -> None:
        """Register a SQLAlchemy session event hook on the sessions of every app."""
        if (event_name, hook) not in self._session_hooks:
            self._session_hooks.append((event_name, hook))

    @property
    def _bound(self) -> _BoundDatabase:
        return current_app.extensions["fieldsync_db"]

    @property
    def engine(self) -> Engine:
        return self._bound.engine

    @property
    def is_sqlite(self) -> bool:
        return self._bound.is_sqlite

    @property
    def session(self) -> Session:
        """The session of the current request or app context, opened on first use."""
        if "db_session" not in g:
            g.db_session = self.new_session(write=self._is_write_context())
        return g.db_session

    def new_session(self, *, write: bool = True) -> Session:
        bound = self._bound
        session = bound.session_factory()
        if write and bound.is_sqlite:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        return session

    def begin_snapshot(self) -> Session:
        """Open the request's session so that everything it reads comes from one snapshot.

        SQLite's read transaction is one snapshot already; on PostgreSQL the transaction begins
        in REPEATABLE READ. It must open the request's session (before authentication, which
        then reads through the same snapshot): a transaction that has begun keeps its level.
        """
        if "db_session" in g:
            raise RuntimeError("the request's session is open already: begin the snapshot first")
        session = self.session
        if not self.is_sqlite:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return session

    @contextmanager
    def auth_session(self) -> Iterator[Session]:
        """The session authentication reads through: the request's own, so a request checks out
        one connection, except on SQLite before a write request has opened its session.

        There a short read session of its own is used and closed on exit, so that the write
        request takes the write lock (`BEGIN IMMEDIATE`) only when its view first touches
        `db.session`, not while the token is being checked.
        """
        if not (self.is_sqlite and "db_session" not in g and self._is_write_context()):
            yield self.session
            return
        session = self.new_session(write=False)
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Session]:
        """A session outside the request's (CLI, sweeps, bookkeeping): commit on success, roll
        back on error.

        `durable=False` is for writes whose loss in a crash harms nothing (a pull's rate-limit
        bucket): on PostgreSQL the commit does not wait for the WAL flush.
        """
        session = self.new_session(write=True)
        if not durable and not self.is_sqlite:
            session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @staticmethod
    def _is_write_context() -> bool:
        return not has_request_context() or request.method not in SAFE_METHODS

    def finish_request(self, succeeded: bool) -> None:
        """Commit the request's transaction when the response is a success, else roll back."""
        session: Session | None = g.get("db_session")
        if session is None:
            return
        if succeeded:
            _test_commit_delay()
            session.commit()
        else:
            session.rollback()

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def consistent_snapshot(view: Callable) -> Callable:
    """View decorator, outermost (above the auth decorator): the request's reads, authentication
    included, all come from one snapshot (`Database.begin_snapshot`)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        db.begin_snapshot()
        return view(*args, **kwargs)

    return wrapper


def _test_commit_delay() -> None:
    """Tests only: hold a write transaction open a random while, so commits come out of order."""
    settings = current_app.config["SETTINGS"]
    delay = settings.test_commit_delay_max if settings.testing else 0.0
    if delay > 0 and request.method not in SAFE_METHODS:
        time.sleep(random.uniform(0, delay))


db = Database()
