"""The device's local SQLite store: server state, the local view, the outbox and settings.

Everything a crew member does is written here, in one transaction, before the SDK method
returns: WAL with synchronous=FULL, so a crash of the app (or of the tablet) loses nothing
that a method has acknowledged.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS entities (
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, order_id TEXT,
    data TEXT NOT NULL, PRIMARY KEY (type, id));
CREATE TABLE IF NOT EXISTS views (order_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, order_id TEXT,
    type TEXT NOT NULL, hlc TEXT NOT NULL, at TEXT NOT NULL, base_version INTEGER,
    data TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', code TEXT, detail TEXT,
    order_version INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL, settled_at REAL);
CREATE INDEX IF NOT EXISTS ix_outbox_state ON outbox (state, seq);
CREATE TABLE IF NOT EXISTS uploads (
    media_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL,
    sha256 TEXT NOT NULL, size INTEGER NOT NULL, taken_at TEXT NOT NULL, filename TEXT NOT NULL,
    upload_url TEXT, state TEXT NOT NULL DEFAULT 'pending', error TEXT,
    created_at REAL NOT NULL, settled_at REAL);
"""

#: Outcomes that settle a mutation for good; `rejected` settles it too but stays visible.
SETTLED = ("applied", "merged", "duplicate", "rejected")


@dataclass(frozen=True)
class Mutation:
    seq: int
    id: str
    order_id: str | None
    type: str
    hlc: str
    at: str
    base_version: int | None
    data: dict[str, Any]
    state: str
    code: str | None
    detail: str | None
    order_version: int | None

    def wire(self) -> dict[str, Any]:
        """The mutation as POST /sync/push takes it."""
        body: dict[str, Any] = {"id": self.id, "type": self.type, "hlc": self.hlc, "at": self.at,
                                "data": self.data}
        if self.order_id is not None:
            body["order_id"] = self.order_id
        if self.base_version is not None:
            body["base_version"] = self.base_version
        return body


@dataclass(frozen=True)
class PendingUpload:
    media_id: str
    order_id: str
    kind: str
    path: str
    sha256: str
    size: int
    taken_at: str
    filename: str
    upload_url: str | None
    state: str
    error: str | None


class Store:
    """One device's store. Thread-safe: one connection guarded by a lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                     timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; nested calls join the outer transaction."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    # -- settings --------------------------------------------------------------------------

    def get(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def put(self, key: str, value: str | None) -> None:
        with self.transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                             "DO UPDATE SET value = excluded.value", (key, value))

    # -- server state ----------------------------------------------------------------------

    def upsert_entity(self, entity_type: str, entity_id: str, version: int,
                      order_id: str | None, data: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO entities (type, id, version, order_id, data) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, "
                "order_id = excluded.order_id, data = excluded.data",
                (entity_type, entity_id, version, order_id, json.dumps(data)))

    def remove_entity(self, entity_type: str, entity_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM entities WHERE type = ? AND id = ?", (entity_type, entity_id))
            if entity_type == "order":
                conn.execute("DELETE FROM entities WHERE type = 'media' AND order_id = ?",
                             (entity_id,))

    def clear_entities(self) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM entities")

    def entity_versions(self) -> dict[tuple[str, str], int]:
        rows = self._query("SELECT type, id, version FROM entities")
        return {(row["type"], row["id"]): row["version"] for row in rows}

    def entity_items(self, entity_type: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self._query("SELECT id, data FROM entities WHERE type = ? ORDER BY id",
                           (entity_type,))
        return [(row["id"], json.loads(row["data"])) for row in rows]

    # -- local view --------------------------------------------------------------------------

    def view(self, order_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT data FROM views WHERE order_id = ?", (order_id,))
        return json.loads(rows[0]["data"]) if rows else None

    def views(self) -> list[dict[str, Any]]:
        return [json.loads(row["data"]) for row in self._query("SELECT data FROM views")]

    def set_view(self, order_id: str, data: dict[str, Any] | None) -> None:
        with self.transaction() as conn:
            if data is None:
                conn.execute("DELETE FROM views WHERE order_id = ?", (order_id,))
            else:
                conn.execute("INSERT INTO views (order_id, data) VALUES (?, ?) ON CONFLICT "
                             "(order_id) DO UPDATE SET data = excluded.data",
                             (order_id, json.dumps(data)))

    def clear_views(self) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM views")

    # -- outbox ----------------------------------------------------------------------------

    def enqueue(self, mutation: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO outbox (id, order_id, type, hlc, at, base_version, data, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (mutation["id"], mutation.get("order_id"), mutation["type"], mutation["hlc"],
                 mutation["at"], mutation.get("base_version"), json.dumps(mutation["data"]),
                 time.time()))

    @staticmethod
    def _mutation(row: sqlite3.Row) -> Mutation:
        return Mutation(seq=row["seq"], id=row["id"], order_id=row["order_id"], type=row["type"],
                        hlc=row["hlc"], at=row["at"], base_version=row["base_version"],
                        data=json.loads(row["data"]), state=row["state"], code=row["code"],
                        detail=row["detail"], order_version=row["order_version"])

    def pending(self, limit: int | None = None) -> list[Mutation]:
        sql = "SELECT * FROM outbox WHERE state = 'pending' ORDER BY seq"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        return [self._mutation(row) for row in self._query(sql, params)]

    def mutations(self, state: str | None = None) -> list[Mutation]:
        if state is None:
            rows = self._query("SELECT * FROM outbox ORDER BY seq")
        else:
            rows = self._query("SELECT * FROM outbox WHERE state = ? ORDER BY seq", (state,))
        return [self._mutation(row) for row in rows]

    def mark_attempt(self, ids: list[str]) -> None:
        with self.transaction() as conn:
            conn.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?",
                             [(i,) for i in ids])

    def settle(self, mutation_id: str, state: str, code: str | None, detail: str | None,
               order_version: int | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET state = ?, code = ?, detail = ?, order_version = ?, "
                "settled_at = ? WHERE id = ? AND state = 'pending'",
                (state, code, detail, order_version, time.time(), mutation_id))

    # -- uploads ---------------------------------------------------------------------------

    def add_upload(self, upload: PendingUpload) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO uploads (media_id, order_id, kind, path, sha256, size, taken_at, "
                "filename, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (upload.media_id, upload.order_id, upload.kind, upload.path, upload.sha256,
                 upload.size, upload.taken_at, upload.filename, time.time()))

    def uploads(self, state: str | None = None) -> list[PendingUpload]:
        where = " WHERE state = ?" if state else ""
        sql = f"SELECT * FROM uploads{where} ORDER BY created_at"
        rows = self._query(sql, (state,) if state else ())
        return [PendingUpload(media_id=r["media_id"], order_id=r["order_id"], kind=r["kind"],
                              path=r["path"], sha256=r["sha256"], size=r["size"],
                              taken_at=r["taken_at"], filename=r["filename"],
                              upload_url=r["upload_url"], state=r["state"], error=r["error"])
                for r in rows]

    def upload_url(self, media_id: str) -> str | None:
        rows = self._query("SELECT upload_url FROM uploads WHERE media_id = ?", (media_id,))
        return rows[0]["upload_url"] if rows else None

    def set_upload_url(self, media_id: str, url: str | None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE uploads SET upload_url = ? WHERE media_id = ?", (url, media_id))

    def finish_upload(self, media_id: str, state: str, error: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE uploads SET state = ?, error = ?, settled_at = ? "
                         "WHERE media_id = ?", (state, error, time.time(), media_id))
