"""The database extension: one engine per app, one session and one transaction per request.

Views and domain code only flush; the request commits once at the end (or rolls back on an
error response). On SQLite a write request takes the write lock up front (`BEGIN IMMEDIATE`)
so two writers queue on `busy_timeout` instead of failing to upgrade a read lock.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from server import json_columns

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def make_engine(url: str, *, sqlite_synchronous: str = "FULL") -> Engine:
    """Create an engine with the pragmas and pool settings Fieldsync relies on."""
    json_codec = {"json_serializer": json_columns.dumps, "json_deserializer": json_columns.loads}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               **json_codec)
        _configure_sqlite(engine, sqlite_synchronous)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **json_codec)


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised on every connect
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@dataclass
class _BoundDatabase:
    engine: Engine
    session_factory: sessionmaker[Session]


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
        app.extensions["fieldsync_db"] = _BoundDatabase(engine, factory)
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
        return self.engine.dialect.name == "sqlite"

    @property
    def session(self) -> Session:
        """The session of the current request or app context, opened on first use."""
        if "db_session" not in g:
            g.db_session = self.new_session(write=self._is_write_context())
        return g.db_session

    def new_session(self, *, write: bool = True) -> Session:
        session = self._bound.session_factory()
        if write and self.is_sqlite:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        return session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A short read-only session of its own, closed on exit.

        Authentication reads through it, so a write request on SQLite takes the write lock only
        when its view first touches `db.session`, not while the token is being checked.
        """
        session = self.new_session(write=False)
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session outside any request (CLI, sweeps): commit on success, roll back on error."""
        session = self.new_session(write=True)
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


def _test_commit_delay() -> None:
    """Tests only: hold a write transaction open a random while, so commits come out of order."""
    settings = current_app.config["SETTINGS"]
    delay = settings.test_commit_delay_max if settings.testing else 0.0
    if delay > 0 and request.method not in SAFE_METHODS:
        time.sleep(random.uniform(0, delay))


db = Database()
