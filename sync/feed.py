"""Recording the change feed: positions are handed out at commit, so they follow commit order.

A sequence number taken mid-transaction is not a commit order: two transactions can take 10
and 11 and commit 11 first, and a reader that moved past 11 would lose 10 forever. Instead,
changes are collected in the session and written by `publish_pending`, which runs just before
commit and takes the positions with `UPDATE feed_state ... RETURNING`, a row lock held until
commit (a push on PostgreSQL takes them with its batch write, its last statement). The next
transaction waits on that lock, so positions are committed in order and a reader never sees a
position before every lower one is committed (SQLite has one writer).
"""

from __future__ import annotations

import datetime as dt
import uuid
import weakref
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, func, insert, select, text, update
from sqlalchemy.orm import Session, SessionTransaction

from server import json_columns
from server.models.base import utcnow
from server.models.feed import ChangeLog, FeedState

_PENDING = "fieldsync.pending_changes"
_SAVEPOINTS = "fieldsync.pending_at_savepoint"


@dataclass
class PendingChange:
    entity_type: str
    entity_id: str
    version: int
    order_id: uuid.UUID | None
    team_id: uuid.UUID | None
    prev_team_id: uuid.UUID | None


def record(
    session: Session,
    *,
    entity_type: str,
    entity_id: str | uuid.UUID,
    version: int,
    order_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None,
    prev_team_id: uuid.UUID | None = None,
) -> None:
    """Note a change to publish at commit; several changes to one entity publish once.

    `prev_team_id` is the team that held the order before this transaction, so that a tablet
    of the old team learns the order left its scope.
    """
    pending: dict[tuple[str, str], PendingChange] = session.info.setdefault(_PENDING, {})
    key = (entity_type, str(entity_id))
    earlier = pending.get(key)
    pending[key] = PendingChange(
        entity_type=entity_type,
        entity_id=str(entity_id),
        version=version,
        order_id=order_id,
        team_id=team_id,
        prev_team_id=earlier.prev_team_id if earlier else prev_team_id,
    )


def publish_pending(session: Session) -> None:
    """before_commit hook: take feed positions under the feed lock and write the entries."""
    changes = take_pending(session)
    if not changes:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(PUBLISH_FEED_PG, publish_parameters(changes))
        return
    last = session.execute(
        update(FeedState)
        .where(FeedState.id == 1)
        .values(last_pos=FeedState.last_pos + len(changes))
        .returning(FeedState.last_pos)
    ).scalar_one()
    first = last - len(changes) + 1
    now = utcnow()
    session.execute(
        insert(cast(Table, ChangeLog.__table__)),  # a table: `__table__` is typed FromClause
        [{**_entry(change), "pos": first + offset, "at": now}
         for offset, change in enumerate(changes)],
    )


def take_pending(session: Session) -> list[PendingChange]:
    """The changes noted so far, which the caller then publishes (no longer pending); none
    inside a savepoint.

    SQLAlchemy fires before_commit when a SAVEPOINT is released too; taking the feed lock
    there would hold it (and serialise every writer) until the real commit.
    """
    if session.in_nested_transaction():
        return []
    return list(session.info.pop(_PENDING, {}).values())


def _entry(change: PendingChange) -> dict[str, object]:
    return {"entity_type": change.entity_type, "entity_id": change.entity_id,
            "order_id": change.order_id, "team_id": change.team_id,
            "prev_team_id": change.prev_team_id, "version": change.version}


#: PostgreSQL takes the positions and writes the entries in one round trip (the entries travel
#: as one JSON array), since this runs in every write transaction. The two parts are kept
#: apart so that a push can append them to its own write statement (`sync.batch_writes`).
TAKE_POSITIONS_PG = """taken AS (
    UPDATE feed_state SET last_pos = last_pos + :feed_count WHERE id = 1 RETURNING last_pos
)"""
INSERT_ENTRIES_PG = """
INSERT INTO change_log (pos, entity_type, entity_id, order_id, team_id, prev_team_id, version, at)
SELECT taken.last_pos - :feed_count + entry.number, entry.entity_type, entry.entity_id,
       entry.order_id, entry.team_id, entry.prev_team_id, entry.version, :feed_at
FROM taken, jsonb_to_recordset(CAST(:feed_entries AS jsonb)) AS entry(
    number bigint, entity_type text, entity_id text, order_id uuid, team_id uuid,
    prev_team_id uuid, version integer)
"""
PUBLISH_FEED_PG = text(f"WITH {TAKE_POSITIONS_PG} {INSERT_ENTRIES_PG}")


def publish_parameters(changes: list[PendingChange]) -> dict[str, object]:
    """The bind parameters of `PUBLISH_FEED_PG` (and of its parts) for these changes."""
    entries = [{"number": number, **_entry(change)}
               for number, change in enumerate(changes, start=1)]  # orjson writes UUIDs
    return {"feed_count": len(changes), "feed_at": utcnow(),
            "feed_entries": json_columns.dumps(entries)}


def _open_savepoint(session: Session, transaction: SessionTransaction) -> None:
    """after_transaction_create hook: remember what was pending when a savepoint opened."""
    if transaction.nested:
        # Weak keys: a snapshot goes with its savepoint (after_transaction_end runs before
        # after_soft_rollback, so it cannot be the place to drop it).
        snapshots = session.info.setdefault(_SAVEPOINTS, weakref.WeakKeyDictionary())
        snapshots[transaction] = dict(session.info.get(_PENDING, {}))


def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """after_soft_rollback hook: changes noted inside a rolled-back savepoint (or a rolled-back
    transaction) must never be published; those noted before the savepoint stay."""
    if previous.nested:
        snapshot = session.info.get(_SAVEPOINTS, {}).get(previous)
        if snapshot is not None:
            session.info[_PENDING] = snapshot
    else:
        session.info.pop(_PENDING, None)


#: The session events the feed needs, registered by the app factory.
SESSION_HOOKS = (
    ("before_commit", publish_pending),
    ("after_transaction_create", _open_savepoint),
    ("after_soft_rollback", _forget_rolled_back),
)


def prune(session: Session, older_than: dt.datetime) -> tuple[int, int]:
    """Delete feed rows written before `older_than`; returns (rows deleted, new pruned_below).

    Positions follow commit time, so the old rows are a prefix of the log: everything up to
    the newest old position goes, and cursors below it then answer 410 `cursor_expired`.
    """
    newest_old = session.execute(
        select(func.max(ChangeLog.pos)).where(ChangeLog.at < older_than)
    ).scalar_one()
    current = session.execute(select(FeedState.pruned_below).where(FeedState.id == 1)).scalar_one()
    if newest_old is None or newest_old < current:
        return 0, current
    deleted = cast("CursorResult[Any]", session.execute(
        delete(ChangeLog).where(ChangeLog.pos <= newest_old))).rowcount
    session.execute(update(FeedState).where(FeedState.id == 1).values(pruned_below=newest_old + 1))
    return deleted, newest_old + 1
