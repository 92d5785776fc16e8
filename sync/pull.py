"""Building one pull response: a paged full snapshot, then deltas from the change feed.

No change is missed because a cursor is a feed position, and feed positions are handed out at
commit under a row lock (sync/feed.py): every row at or below the `last_pos` a reader sees is
already committed and visible to it. The caller runs the whole pull in one consistent snapshot
(REPEATABLE READ on PostgreSQL, one read transaction on SQLite), so the feed position, the
orders, the media and the digest all describe one moment.

A full snapshot pins the feed position at which it started; its pages walk the orders in scope
by (priority, nearest SLA deadline, id); once they are sent, the same response continues with
the delta from the pinned position, so whatever changed during the snapshot arrives after it.
A delta reads the rows of the device's team (`team_id` or `prev_team_id`, so a team learns an
order left it) and the reference rows, keeps the newest row per entity, and sends each entity's
current state: an upsert while in scope, else a remove with its reason. Orders aging out of
scope leave no row; the cursor carries the time of the previous pull, and orders whose
completion turned seven days old since then are removed as `expired`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from schemas.orders import crew_view
from server.domain.scope import COMPLETED_RETENTION, in_scope, scope_condition
from server.models.feed import ChangeLog, FeedState
from server.models.orders import PRIORITY_RANK, Order
from server.models.people import Device
from sync import reference
from sync.cursor import Cursor
from sync.digest import scope_digest
from sync.media_source import MediaEntity, as_uuids, media_source

#: Sort key for orders without any SLA deadline: after every real one.
NO_DEADLINE_MS = 10**15


class CursorGone(Exception):
    """The cursor points below the retained change log (or past its end): start again."""


@dataclass
class PullPage:
    changes: list[dict[str, Any]]
    cursor: Cursor
    has_more: bool
    remaining: int
    digest: str | None
    last_sync_at: dt.datetime | None


@dataclass
class _Changes:
    """The entries of one response, at most one per entity."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, entry: dict[str, Any]) -> None:
        key = (entry["type"], entry["id"])
        if key not in self.seen:
            self.seen.add(key)
            self.entries.append(entry)

    def upsert_order(self, order: Order) -> None:
        self.add({"type": "order", "op": "upsert", "id": str(order.id), "version": order.version,
                  "data": crew_view(order)})

    def remove_order(self, order_id: str, reason: str) -> None:
        self.add({"type": "order", "op": "remove", "id": order_id, "reason": reason})

    def upsert_media(self, media: MediaEntity) -> None:
        self.add({"type": "media", "op": "upsert", "id": media.id, "version": media.version,
                  "order_id": media.order_id, "data": media.data})

    def upsert_reference(self, row: Any) -> None:
        self.add({"type": "reference", "op": "upsert", "id": row.id, "version": row.version,
                  "data": row.data})


@dataclass(frozen=True)
class _ScopeEntry:
    id: uuid.UUID
    version: int
    key: tuple[int, int, str]
    completed_at: dt.datetime | None


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _deadline(status: str, arrive_by: dt.datetime | None, complete_by: dt.datetime | None):
    """The nearest deadline still ahead of the crew: arrival until on site, then completion."""
    if status in ("assigned", "en_route") and arrive_by is not None:
        return arrive_by
    return complete_by or arrive_by


def _scope(session: Session, team_id: uuid.UUID, now: dt.datetime) -> list[_ScopeEntry]:
    """Every order in the team's scope, most urgent first (one light query)."""
    rows = session.execute(
        select(Order.id, Order.version, Order.priority, Order.status, Order.sla_arrive_by,
               Order.sla_complete_by, Order.completed_at)
        .where(scope_condition(team_id, now))
    )
    entries = []
    for row in rows:
        deadline = _deadline(row.status, row.sla_arrive_by, row.sla_complete_by)
        key = (PRIORITY_RANK.get(row.priority, len(PRIORITY_RANK)),
               _ms(deadline) if deadline else NO_DEADLINE_MS, str(row.id))
        entries.append(_ScopeEntry(row.id, row.version, key, row.completed_at))
    entries.sort(key=lambda entry: entry.key)
    return entries


def _load_orders(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, Order]:
    if not ids:
        return {}
    return {order.id: order for order in session.scalars(select(Order).where(Order.id.in_(ids)))}


def removal_reason(order: Order | None, team_id: uuid.UUID, now: dt.datetime) -> str:
    """Why an order is not (or no longer) in a team's scope."""
    if order is None or order.team_id != team_id:
        return "unassigned"
    if order.status in ("cancelled", "closed"):
        return order.status
    if order.status == "completed":
        return "expired"
    return "unassigned"


def _team_rows(team_id: uuid.UUID):
    return or_(
        ChangeLog.team_id == team_id,
        ChangeLog.prev_team_id == team_id,
        and_(ChangeLog.team_id.is_(None), ChangeLog.entity_type == "reference"),
    )


def _count_rows(session: Session, team_id: uuid.UUID, after: int, upto: int) -> int:
    """Feed rows for the team in (after, upto]: an upper bound of the entities they touch."""
    if upto <= after:
        return 0
    return session.execute(
        select(func.count()).select_from(ChangeLog)
        .where(ChangeLog.pos > after, ChangeLog.pos <= upto, _team_rows(team_id))
    ).scalar_one()


def pull(
    session: Session,
    *,
    team_id: uuid.UUID,
    device_id: uuid.UUID,
    cursor: Cursor | None,
    limit: int,
    now: dt.datetime,
) -> PullPage:
    """One page of changes for a device of `team_id` after `cursor` (None: full snapshot)."""
    state = session.execute(
        select(FeedState.last_pos, FeedState.pruned_below, Device.last_sync_at)
        .select_from(FeedState).join(Device, Device.id == device_id)
        .where(FeedState.id == 1)
    ).one()
    last_pos, pruned_below, last_sync_at = state
    if cursor is not None and (cursor.pos + 1 < pruned_below or cursor.pos > last_pos):
        raise CursorGone("The change log no longer reaches this cursor.")
    changes = _Changes()
    scope: list[_ScopeEntry] | None = None

    if cursor is None or cursor.in_snapshot:
        pin = cursor.pos if cursor else last_pos
        started_ms = cursor.at_ms if cursor else _ms(now)
        scope = _scope(session, team_id, now)
        after = cursor.after if cursor else None
        pending = [entry for entry in scope if after is None or entry.key > after]
        page = pending[:limit]
        orders = _load_orders(session, [entry.id for entry in page])
        for entry in page:
            changes.upsert_order(orders[entry.id])
        if cursor is None:
            for row in reference.all_reference_data(session):
                changes.upsert_reference(row)
        for media in media_source().for_orders(session, [entry.id for entry in page]):
            changes.upsert_media(media)
        sent = (cursor.sent if cursor else 0) + len(page)
        if len(pending) > len(page):
            remaining = len(pending) - len(page) + _count_rows(session, team_id, pin, last_pos)
            next_cursor = Cursor(team_id=str(team_id), pos=pin, at_ms=started_ms,
                                 after=page[-1].key, sent=sent)
            return PullPage(changes.entries, next_cursor, True, remaining, None, last_sync_at)
        since = Cursor(team_id=str(team_id), pos=pin, at_ms=started_ms)
        capacity = limit - len(page)
    else:
        since, capacity = cursor, limit

    return _delta(session, changes, since, capacity, last_pos, now, team_id, scope, last_sync_at)


def _delta(
    session: Session,
    changes: _Changes,
    since: Cursor,
    capacity: int,
    last_pos: int,
    now: dt.datetime,
    team_id: uuid.UUID,
    scope: list[_ScopeEntry] | None,
    last_sync_at: dt.datetime | None,
) -> PullPage:
    rows = []
    if last_pos > since.pos:
        last = func.max(ChangeLog.pos).label("last")
        rows = session.execute(
            select(ChangeLog.entity_type, ChangeLog.entity_id, last,
                   func.count().over().label("total"))
            .where(ChangeLog.pos > since.pos, ChangeLog.pos <= last_pos, _team_rows(team_id))
            .group_by(ChangeLog.entity_type, ChangeLog.entity_id)
            .order_by(last)
            .limit(capacity + 1)
        ).all()
    total = rows[0].total if rows else 0
    taken = rows[:capacity]
    has_more = total > len(taken)
    new_pos = taken[-1].last if has_more and taken else (since.pos if has_more else last_pos)
    _apply_rows(session, changes, taken, team_id, now)

    expired = 0
    if not has_more and (since.digest is None or (
            since.next_expiry_ms is not None and since.next_expiry_ms <= _ms(now))):
        expired = _expire(session, changes, team_id, since.at_ms, now)

    digest, next_expiry_ms = None, None
    if not has_more:
        if not taken and not expired and since.digest is not None:
            digest, next_expiry_ms = since.digest, since.next_expiry_ms
        else:
            digest, next_expiry_ms = _digest(session, team_id, now, scope)
    next_cursor = Cursor(
        team_id=str(team_id), pos=new_pos,
        at_ms=since.at_ms if has_more else _ms(now),
        digest=digest, next_expiry_ms=next_expiry_ms,
    )
    return PullPage(changes.entries, next_cursor, has_more, total - len(taken), digest,
                    last_sync_at)


def _apply_rows(session: Session, changes: _Changes, rows: list, team_id: uuid.UUID,
                now: dt.datetime) -> None:
    """Turn the newest feed row of each entity into its current state (one query per type)."""
    media_ids = [r.entity_id for r in rows if r.entity_type == "media"]
    media = {m.id: m for m in media_source().by_ids(session, as_uuids(media_ids))}
    order_ids = {uuid.UUID(r.entity_id) for r in rows if r.entity_type == "order"}
    order_ids |= {uuid.UUID(m.order_id) for m in media.values()}
    orders = _load_orders(session, sorted(order_ids))
    references = {row.id: row for row in reference.reference_by_ids(
        session, [r.entity_id for r in rows if r.entity_type == "reference"])}
    upserted: list[uuid.UUID] = []
    for row in rows:
        if row.entity_type == "order":
            order = orders.get(uuid.UUID(row.entity_id))
            if order is not None and in_scope(order, team_id, now):
                changes.upsert_order(order)
                upserted.append(order.id)
            else:
                changes.remove_order(row.entity_id, removal_reason(order, team_id, now))
        elif row.entity_type == "media":
            item = media.get(row.entity_id)
            owner = orders.get(uuid.UUID(item.order_id)) if item else None
            if item is not None and owner is not None and in_scope(owner, team_id, now):
                changes.upsert_media(item)
        elif row.entity_type == "reference" and row.entity_id in references:
            changes.upsert_reference(references[row.entity_id])
    # An order entering the scope brings its media along (its media rows may be older).
    for item in media_source().for_orders(session, upserted):
        changes.upsert_media(item)


def _expire(session: Session, changes: _Changes, team_id: uuid.UUID, since_ms: int,
            now: dt.datetime) -> int:
    """Remove orders whose completion turned seven days old since the previous pull."""
    since = dt.datetime.fromtimestamp(since_ms / 1000, dt.UTC)
    ids = session.scalars(
        select(Order.id).where(
            Order.team_id == team_id, Order.status == "completed",
            Order.completed_at >= since - COMPLETED_RETENTION,
            Order.completed_at < now - COMPLETED_RETENTION,
        )
    ).all()
    before = len(changes.entries)
    for order_id in ids:
        changes.remove_order(str(order_id), "expired")
    return len(changes.entries) - before


def _digest(session: Session, team_id: uuid.UUID, now: dt.datetime,
            scope: list[_ScopeEntry] | None) -> tuple[str, int | None]:
    """The scope digest now, and the next moment an order of the scope ages out."""
    scope = scope if scope is not None else _scope(session, team_id, now)
    entities: list[tuple[str, str, int]] = [("order", str(e.id), e.version) for e in scope]
    entities += [("media", m.id, m.version)
                 for m in media_source().for_orders(session, [e.id for e in scope])]
    entities += [("reference", row.id, row.version)
                 for row in reference.all_reference_data(session)]
    expiries = [_ms(e.completed_at + COMPLETED_RETENTION) for e in scope
                if e.completed_at is not None]
    return scope_digest(entities), (min(expiries) if expiries else None)
