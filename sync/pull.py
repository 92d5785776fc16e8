"""Building one pull response: a paged full snapshot, then deltas from the change feed.

No change is missed because a cursor is a feed position, and feed positions are handed out at
commit under a row lock (sync/feed.py): every row at or below the `last_pos` a reader sees is
already committed and visible to it. The caller runs the whole pull in one consistent snapshot
(REPEATABLE READ on PostgreSQL, one read transaction on SQLite), so the feed position, the
orders, the media and the digest all describe one moment.

A full snapshot pins the feed position at which it started; its pages send the reference lists,
then walk the orders in scope by (priority, nearest SLA deadline, id), each with its media, at
most `limit` changes a page (one order and its media always go together); once they are sent,
the same response continues with the delta from the pinned position, so whatever changed during
the snapshot arrives after it.
A delta reads the rows of the device's team (`team_id` or `prev_team_id`, so a team learns an
order left it) and the reference rows, keeps the newest row per entity, and sends each entity's
current state: an upsert while in scope, else a remove with its reason. Orders aging out of
scope leave no row; the cursor carries the time of the previous pull, and orders whose
completion turned seven days old since then are removed as `expired`.

Every query is a Core statement built once (bind parameters, no ORM objects: a pull only
reads), and none runs for an empty list. The first query (where the feed stands) also brings
the reference lists' versions, so an empty delta pull costs one query. One scope query serves a
snapshot's page order, the digest (with the versions of the scope's media) and the expiry
check; a delta needs only the digest, which PostgreSQL sums up in one row (`sync.digest_query`)
read with the feed rows and the changed orders, so a delta that changes the digest costs two
queries there (plus one per other kind of entity it carries), four on SQLite; a full snapshot
of a crew's orders costs four (five when they have media).
"""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, case, cast, func, or_, select, true
from sqlalchemy.orm import Session

from schemas.orders import DOCUMENT_COLUMNS, crew_view
from server.domain.scope import ACTIVE_STATUSES, COMPLETED_RETENTION, in_scope
from server.models.feed import ChangeLog, FeedState
from server.models.media import Media
from server.models.orders import PRIORITY_RANK, Order
from server.models.people import Device
from sync import digest_query, reference
from sync.cursor import Cursor
from sync.digest import scope_digest
from sync.media_source import MediaEntity, as_uuids, media_source

#: Sort key for orders without any SLA deadline: after every real one.
NO_DEADLINE_MS = 10**15
#: The first member of the reference lists' snapshot sort keys (`_reference_key`).
REFERENCE_RANK = -1

_orders = Order.__table__.c
_feed = ChangeLog.__table__.c
_media_rows = Media.__table__.c
_feed_state = FeedState.__table__.c
_devices = Device.__table__.c

#: Where the feed stands, when the device last synced and the reference lists' versions (a
#: row of `devices`): the HTTP layer reads them with the device check, in the same snapshot,
#: which saves every pull a round trip; `_STATE` reads them for other callers.
STATE_COLUMNS = (
    select(_feed_state.last_pos).where(_feed_state.id == 1).scalar_subquery(),
    select(_feed_state.pruned_below).where(_feed_state.id == 1).scalar_subquery(),
    _devices.last_sync_at,
    reference.VERSIONS_TEXT,
)
_STATE = select(*STATE_COLUMNS).where(_devices.id == bindparam("device_id"))

#: The orders of a team in scope (`scope_condition`), with the completed ones back to
#: `completed_since` (now - 7 days; earlier to also find those that aged out since then).
_IN_SCOPE = and_(
    _orders.team_id == bindparam("team_id"),
    or_(_orders.status.in_(ACTIVE_STATUSES),
        and_(_orders.status == "completed", _orders.completed_at >= bindparam("completed_since"))),
)
#: The scope in brief, each order with the versions of its media (enough for the digest and
#: the expiry check) ...
_SCOPE = (
    select(_orders.id, _orders.version, _orders.status, _orders.completed_at,
           _media_rows.id.label("media_id"), _media_rows.version.label("media_version"))
    .select_from(Order.__table__.outerjoin(Media.__table__, _media_rows.order_id == _orders.id))
    .where(_IN_SCOPE)
)
#: ... and what a snapshot sorts it by.
_SCOPE_SORTED = _SCOPE.add_columns(_orders.priority, _orders.sla_arrive_by,
                                   _orders.sla_complete_by)

#: What the pull sends of an order, and what `in_scope` reads (`_OrderRow`): of some orders,
#: or of the whole scope (a snapshot that fits one page: no list of ids to send).
_ORDER_COLUMNS = [_orders[name] for name in dict.fromkeys((*DOCUMENT_COLUMNS, "completed_at"))]
_ORDER_ROWS = select(*_ORDER_COLUMNS).where(_orders.id.in_(bindparam("ids", expanding=True)))
_SCOPE_ORDER_ROWS = select(*_ORDER_COLUMNS).where(_IN_SCOPE)

#: The digest of the scope's orders and media, computed by PostgreSQL.
SCOPE_DIGEST_PG = digest_query.build_statement(_IN_SCOPE)

#: Feed rows of a team: its orders (also those that left it) and the reference lists.
_TEAM_ROWS = or_(
    _feed.team_id == bindparam("team_id"),
    _feed.prev_team_id == bindparam("team_id"),
    and_(_feed.team_id.is_(None), _feed.entity_type == "reference"),
)
_IN_WINDOW = and_(_feed.pos > bindparam("after"), _feed.pos <= bindparam("upto"), _TEAM_ROWS)

#: The newest feed row of each entity in (after, upto], oldest first, and how many entities.
_last = func.max(_feed.pos).label("last")
_DELTA = (
    select(_feed.entity_type, _feed.entity_id, _last, func.count().over().label("total"))
    .where(_IN_WINDOW)
    .group_by(_feed.entity_type, _feed.entity_id)
    .order_by(_last)
    .limit(bindparam("limit"))
)

#: PostgreSQL: `_DELTA`, each changed order's row (`_ORDER_COLUMNS`) and the scope's digest
#: summary (`SCOPE_DIGEST_PG`), in one round trip. The summary is read whenever the feed has
#: rows for the team; a delta that ends a snapshot, pages or finds orders aging out does not
#: use it. It is a MATERIALIZED CTE so that it runs once: as a joined subquery the planner may
#: put it on the inner side of a nested loop and scan the whole scope once per changed entity
#: (it did, with the statistics of a table that has not been analyzed since it filled up).
_delta_rows = _DELTA.subquery("delta")
_scope_summary = SCOPE_DIGEST_PG.cte("scope_summary").prefix_with("MATERIALIZED")
_changed_order = case((_delta_rows.c.entity_type == "order",
                       cast(_delta_rows.c.entity_id, Order.__table__.c.id.type)))
_DELTA_PG = (
    select(_delta_rows, _scope_summary, *_ORDER_COLUMNS)
    .select_from(_delta_rows.outerjoin(Order.__table__, _orders.id == _changed_order)
                 .join(_scope_summary, true()))
    .order_by(_delta_rows.c.last)
)
#: Where the order's columns begin in a `_DELTA_PG` row.
_DELTA_PG_ORDER = len(_delta_rows.c) + len(_scope_summary.c)

#: Feed rows for the team in (after, upto]: an upper bound of the entities they touch.
_COUNT = select(func.count()).select_from(ChangeLog.__table__).where(_IN_WINDOW)


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

    def upsert_order(self, order: Any) -> None:
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


class _ScopeEntry(NamedTuple):
    id: uuid.UUID
    version: int
    #: The snapshot's sort key (a sorted scope only).
    key: tuple[int, int, str] | None
    completed_at: dt.datetime | None
    #: (id, version) of the order's media.
    media: tuple[tuple[str, int], ...]


#: An order as the pull reads it: the columns of its document, and `completed_at` for
#: `in_scope` (a named tuple: attribute access on a Row costs ten times more). The ignore:
#: mypy types only a namedtuple whose fields are written out as a literal list.
_OrderRow = namedtuple("_OrderRow", dict.fromkeys((*DOCUMENT_COLUMNS, "completed_at")))  # type: ignore[misc]


@dataclass(frozen=True)
class _Scope:
    """The orders in scope, most urgent first, and those that aged out since a given time."""

    entries: list[_ScopeEntry]
    expired: list[uuid.UUID]
    by_id: dict[uuid.UUID, _ScopeEntry] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {entry.id: entry for entry in self.entries})

    def has_media(self, order_ids: list[uuid.UUID]) -> bool:
        return any(self.by_id[order_id].media for order_id in order_ids
                   if order_id in self.by_id)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _at(epoch_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)


def _deadline(status: str, arrive_by: dt.datetime | None, complete_by: dt.datetime | None):
    """The nearest deadline still ahead of the crew: arrival until on site, then completion."""
    if status in ("assigned", "en_route") and arrive_by is not None:
        return arrive_by
    return complete_by or arrive_by


def _scope(session: Session, team_id: uuid.UUID, now: dt.datetime, *,
           sorted_: bool = False, expired_since: dt.datetime | None = None) -> _Scope:
    """Every order in the team's scope with its media (one light query); `sorted_`: most
    urgent first, each entry with its sort key (a snapshot's pages walk them in that order).

    With `expired_since`, also the completed orders that left the scope by aging out between
    then and now (completed in [expired_since - 7 days, now - 7 days)).
    """
    cutoff = now - COMPLETED_RETENTION
    expired_from = cutoff if expired_since is None else expired_since - COMPLETED_RETENTION
    rows = session.execute(_SCOPE_SORTED if sorted_ else _SCOPE, {
        "team_id": team_id, "completed_since": min(cutoff, expired_from)}).all()
    orders: dict[uuid.UUID, Any] = {}
    media: dict[uuid.UUID, list[tuple[str, int]]] = {}
    expired: dict[uuid.UUID, None] = {}
    for row in rows:
        order_id, _, status, completed_at, media_id, media_version = row[:6]
        if status not in ACTIVE_STATUSES and completed_at < cutoff:
            if completed_at >= expired_from:
                expired[order_id] = None
            continue
        owned = media.get(order_id)
        if owned is None:
            orders[order_id] = row
            owned = media[order_id] = []
        if media_id is not None:
            owned.append((str(media_id), media_version))
    entries = [_ScopeEntry(row[0], row[1], _sort_key(row) if sorted_ else None, row[3],
                           tuple(media[row[0]])) for row in orders.values()]
    if sorted_:
        # Every entry of a sorted scope has its key (`typing.cast`: `cast` is SQL's here).
        entries.sort(key=lambda entry: typing.cast("tuple[int, int, str]", entry.key))
    return _Scope(entries, list(expired))


def _sort_key(row: Any) -> tuple[int, int, str]:
    """(priority, nearest SLA deadline, id) of a `_SCOPE_SORTED` row."""
    order_id, _, status, _, _, _, priority, arrive_by, complete_by = row
    deadline = _deadline(status, arrive_by, complete_by)
    return (PRIORITY_RANK.get(priority, len(PRIORITY_RANK)),
            _ms(deadline) if deadline else NO_DEADLINE_MS, str(order_id))


def _reference_key(index: int) -> tuple[int, int, str]:
    """The snapshot sort key of the `index`-th reference list: before every order's (priority
    ranks start at 0), so a snapshot sends the lists first and a cursor may stop among them."""
    return (REFERENCE_RANK, index, "")


def _references_pending(session: Session, after: tuple[int, int, str] | None
                        ) -> list[tuple[int, Any]]:
    """The reference lists a snapshot has still to send after sort key `after`, with their
    index (none once it has moved on to the orders)."""
    if after is not None and after[0] != REFERENCE_RANK:
        return []
    first = 0 if after is None else after[1] + 1
    return list(enumerate(reference.reference_rows(session)))[first:]


def _page_cost(entry: _ScopeEntry) -> int:
    """The changes an order takes in a snapshot page: itself and its media."""
    return 1 + len(entry.media)


def _fill_page(references: list[tuple[int, Any]], pending: list[_ScopeEntry], limit: int
               ) -> tuple[list[tuple[int, Any]], list[_ScopeEntry]]:
    """The reference lists, then the orders (each with its media), that fit `limit` changes.

    A page always makes progress: when nothing else goes in it, it holds one order, which
    with its media may exceed the limit (an order and its media travel together).
    """
    references_sent = references[:limit]
    budget = limit - len(references_sent)
    page: list[_ScopeEntry] = []
    for entry in pending:
        cost = _page_cost(entry)
        if cost > budget and (page or references_sent):
            break
        page.append(entry)
        budget -= cost
    return references_sent, page


def _load_orders(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The orders as `crew_view` and `in_scope` read them, by id."""
    if not ids:
        return {}
    rows = session.execute(_ORDER_ROWS, {"ids": ids}).all()
    return {row[0]: _OrderRow._make(row) for row in rows}


def _load_scope_orders(session: Session, team_id: uuid.UUID,
                       now: dt.datetime) -> dict[uuid.UUID, Any]:
    """`_load_orders` of every order in the team's scope."""
    rows = session.execute(_SCOPE_ORDER_ROWS, {
        "team_id": team_id, "completed_since": now - COMPLETED_RETENTION}).all()
    return {row[0]: _OrderRow._make(row) for row in rows}


def _media(session: Session, order_ids: list[uuid.UUID], media_ids: list[uuid.UUID],
           scope: _Scope | None, *, scope_has_media: bool = True) -> list[MediaEntity]:
    """Media of these orders and these media, rendered; no query when the scope shows none
    (`scope_has_media`: whether any order of the scope has media, when that is all we know)."""
    if not order_ids and not media_ids:
        return []
    if not media_ids and (not scope_has_media
                          or scope is not None and not scope.has_media(order_ids)):
        return []
    return media_source().entities(session, order_ids=order_ids, media_ids=media_ids)


def removal_reason(order: Any, team_id: uuid.UUID, now: dt.datetime) -> str:
    """Why an order is not (or no longer) in a team's scope."""
    if order is None or order.team_id != team_id:
        return "unassigned"
    if order.status in ("cancelled", "closed"):
        return order.status
    if order.status == "completed":
        return "expired"
    return "unassigned"


def _count_rows(session: Session, team_id: uuid.UUID, after: int, upto: int) -> int:
    """Feed rows for the team in (after, upto]: an upper bound of the entities they touch."""
    if upto <= after:
        return 0
    return session.execute(_COUNT, {"team_id": team_id, "after": after, "upto": upto}
                           ).scalar_one()


def _needs_expiry(since: Cursor, now: dt.datetime) -> bool:
    """Whether an order of the scope may have aged out since the cursor's pull."""
    return since.digest is None or (
        since.next_expiry_ms is not None and since.next_expiry_ms <= _ms(now))


def pull(
    session: Session,
    *,
    team_id: uuid.UUID,
    device_id: uuid.UUID,
    cursor: Cursor | None,
    limit: int,
    now: dt.datetime,
    state: Sequence[Any] | None = None,
) -> PullPage:
    """One page of changes for a device of `team_id` after `cursor` (None: full snapshot).

    `state`: the values of `STATE_COLUMNS` when the caller read them in this snapshot.
    """
    last_pos, pruned_below, last_sync_at, reference_versions = (
        state if state is not None else session.execute(_STATE, {"device_id": device_id}).one())
    if cursor is not None and (cursor.pos + 1 < pruned_below or cursor.pos > last_pos):
        raise CursorGone("The change log no longer reaches this cursor.")
    changes = _Changes()
    scope: _Scope | None = None

    if cursor is None or cursor.in_snapshot:
        pin = cursor.pos if cursor else last_pos
        started_ms = cursor.at_ms if cursor else _ms(now)
        # The delta that ends the snapshot removes what aged out since it started.
        scope = _scope(session, team_id, now, sorted_=True, expired_since=_at(started_ms))
        after = cursor.after if cursor else None
        references = _references_pending(session, after)
        # A sorted scope: every entry has its key.
        pending = [entry for entry in scope.entries
                   if after is None or typing.cast("tuple[int, int, str]", entry.key) > after]
        references_sent, page = _fill_page(references, pending, limit)
        page_ids = [entry.id for entry in page]
        whole_scope = page and len(page) == len(scope.entries)
        orders = (_load_scope_orders(session, team_id, now) if whole_scope
                  else _load_orders(session, page_ids))
        for entry in page:
            changes.upsert_order(orders[entry.id])
        for _, row in references_sent:
            changes.upsert_reference(row)
        for media in _media(session, page_ids, [], scope):
            changes.upsert_media(media)
        left = (len(references) - len(references_sent)
                + sum(_page_cost(entry) for entry in pending[len(page):]))
        if left:
            last_key = page[-1].key if page else _reference_key(references_sent[-1][0])
            next_cursor = Cursor(team_id=str(team_id), pos=pin, at_ms=started_ms,
                                 after=last_key, sent=(cursor.sent if cursor else 0) + len(page))
            remaining = left + _count_rows(session, team_id, pin, last_pos)
            return PullPage(changes.entries, next_cursor, True, remaining, None, last_sync_at)
        since = Cursor(team_id=str(team_id), pos=pin, at_ms=started_ms)
        capacity = max(limit - len(changes.entries), 0)
    else:
        since, capacity = cursor, limit

    return _delta(session, changes, since, capacity, last_pos, now, team_id, scope,
                  reference.parse_versions(reference_versions), last_sync_at)


def _delta(
    session: Session,
    changes: _Changes,
    since: Cursor,
    capacity: int,
    last_pos: int,
    now: dt.datetime,
    team_id: uuid.UUID,
    scope: _Scope | None,
    reference_versions: list[reference.ReferenceVersion],
    last_sync_at: dt.datetime | None,
) -> PullPage:
    rows: Sequence[Any]
    rows, orders, summary = [], None, None
    if last_pos > since.pos:
        rows, orders, summary = _delta_rows_of(session, team_id, since.pos, last_pos,
                                               capacity + 1, now)
    total = rows[0].total if rows else 0
    taken = rows[:capacity]
    has_more = total > len(taken)
    new_pos = taken[-1].last if has_more and taken else (since.pos if has_more else last_pos)
    expiring = not has_more and _needs_expiry(since, now)
    if scope is not None or has_more or expiring:
        # The summary read with the rows serves only a delta that ends this pull outside a
        # snapshot with nothing aging out; otherwise the scope (or no digest) decides.
        summary = None
    if scope is None and not has_more and (taken or expiring) and summary is None:
        # The digest changes: one scope query for it, the media and the expiry check.
        scope = _scope(session, team_id, now,
                       expired_since=_at(since.at_ms) if expiring else None)
    _apply_rows(session, changes, taken, team_id, now, scope, orders,
                scope_has_media=summary is None or summary.has_media)

    expired = 0
    if expiring and scope is not None:
        before = len(changes.entries)
        for order_id in scope.expired:
            changes.remove_order(str(order_id), "expired")
        expired = len(changes.entries) - before

    digest, next_expiry_ms = None, None
    if not has_more:
        if summary is not None:
            digest = scope_digest(_reference_entities(reference_versions), start=summary.value)
            next_expiry_ms = summary.next_expiry_ms
        elif scope is None or (not taken and not expired and since.digest is not None):
            digest, next_expiry_ms = since.digest, since.next_expiry_ms
        else:
            digest, next_expiry_ms = _digest(scope, reference_versions)
    next_cursor = Cursor(
        team_id=str(team_id), pos=new_pos,
        at_ms=since.at_ms if has_more else _ms(now),
        digest=digest, next_expiry_ms=next_expiry_ms,
    )
    return PullPage(changes.entries, next_cursor, has_more, total - len(taken), digest,
                    last_sync_at)


def _delta_rows_of(session: Session, team_id: uuid.UUID, after: int, upto: int, limit: int,
                   now: dt.datetime) -> tuple[Sequence[Any], dict[uuid.UUID, Any] | None,
                                              digest_query.ScopeSummary | None]:
    """`_DELTA`'s rows; on PostgreSQL also the changed orders, by id, and the scope's summary
    (read with them in one statement: a delta that changes something needs the digest)."""
    parameters = {"team_id": team_id, "after": after, "upto": upto, "limit": limit}
    if session.get_bind().dialect.name != "postgresql":
        return session.execute(_DELTA, parameters).all(), None, None
    rows = session.execute(_DELTA_PG, {
        **parameters, "completed_since": now - COMPLETED_RETENTION}).all()
    orders = {row[_DELTA_PG_ORDER]: _OrderRow._make(row[_DELTA_PG_ORDER:]) for row in rows
              if row[_DELTA_PG_ORDER] is not None}
    summary = digest_query.summary_of(rows[0].scope_entities,
                                      rows[0].scope_first_completed) if rows else None
    return rows, orders, summary


def _apply_rows(session: Session, changes: _Changes, rows: Sequence[Any], team_id: uuid.UUID,
                now: dt.datetime, scope: _Scope | None, orders: dict[uuid.UUID, Any] | None,
                *, scope_has_media: bool = True) -> None:
    """Turn the newest feed row of each entity into its current state (one query per type;
    `orders`: the changed orders when they were read with the rows)."""
    if not rows:
        return
    order_ids = sorted({uuid.UUID(r.entity_id) for r in rows if r.entity_type == "order"})
    media_ids = as_uuids(r.entity_id for r in rows if r.entity_type == "media")
    reference_ids = [r.entity_id for r in rows if r.entity_type == "reference"]
    if orders is None:
        orders = _load_orders(session, order_ids)
    in_scope_ids = (set(scope.by_id) if scope is not None else
                    {order_id for order_id, order in orders.items()
                     if in_scope(order, team_id, now)})
    upserted = [order_id for order_id in order_ids if order_id in in_scope_ids]
    # Media in the feed and those of the orders sent: an order entering the scope brings its
    # media along (their rows may be older than the cursor).
    media = _media(session, upserted, media_ids, scope, scope_has_media=scope_has_media)
    media_by_id = {item.id: item for item in media}
    if scope is None:
        owners = _load_orders(session, sorted({uuid.UUID(item.order_id) for item in media}
                                              - set(orders)))
        in_scope_ids |= {order_id for order_id, order in owners.items()
                         if in_scope(order, team_id, now)}
    references = {row.id: row for row in reference.reference_rows(session, reference_ids)}
    for row in rows:
        if row.entity_type == "order":
            order = orders.get(uuid.UUID(row.entity_id))
            if order is not None and order.id in in_scope_ids:
                changes.upsert_order(order)
            else:
                changes.remove_order(row.entity_id, removal_reason(order, team_id, now))
        elif row.entity_type == "media":
            item = media_by_id.get(row.entity_id)
            if item is not None and uuid.UUID(item.order_id) in in_scope_ids:
                changes.upsert_media(item)
        elif row.entity_type == "reference" and row.entity_id in references:
            changes.upsert_reference(references[row.entity_id])
    sent = set(upserted)
    for item in media:
        if uuid.UUID(item.order_id) in sent:
            changes.upsert_media(item)


def _reference_entities(versions: list[reference.ReferenceVersion]) -> list[tuple[str, str, int]]:
    return [("reference", row.id, row.version) for row in versions]


def _digest(scope: _Scope,
            reference_versions: list[reference.ReferenceVersion]) -> tuple[str, int | None]:
    """The scope digest now, and the next moment an order of the scope ages out."""
    entities: list[tuple[str, str | uuid.UUID, int]] = []
    for entry in scope.entries:
        entities.append(("order", entry.id, entry.version))
        entities += [("media", media_id, version) for media_id, version in entry.media]
    entities += _reference_entities(reference_versions)
    expiries = [_ms(e.completed_at + COMPLETED_RETENTION) for e in scope.entries
                if e.completed_at is not None]
    return scope_digest(entities), (min(expiries) if expiries else None)
