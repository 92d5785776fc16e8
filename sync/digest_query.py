"""The scope digest of a delta pull that changed it, from one row that PostgreSQL assembles.

The digest covers every order of the scope and its media (about a hundred rows for a crew).
Fetching those rows through the driver and SQLAlchemy cost more than the rest of the pull, and
hashing them in PostgreSQL (`sha256` per row) costs it more than the fetch saves. So PostgreSQL
writes each entity as the text `sync.digest` hashes (`{type}:{id}:{version}`), joined into one
value, and the fingerprints come from the per-process cache: one row, one string split.
"""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass

from sqlalchemy import Text, cast, func, literal_column, null, select, union_all

from server.domain.scope import COMPLETED_RETENTION
from server.models.media import Media
from server.models.orders import Order
from sync.digest import fingerprint_text

#: Between two entities in the joined value (ids and versions have no comma).
_SEPARATOR = ","


def _entity_text(entity_type: str, entity_id, version):
    """`{type}:{id}:{version}`, as `sync.digest.fingerprint` formats it (uuid::text is the same
    lower-case hyphenated form as Python's `str(uuid)`)."""
    return (literal_column(f"'{entity_type}:'", Text) + cast(entity_id, Text)
            + literal_column("':'", Text) + cast(version, Text))


def build_statement(in_scope):
    """The query over the orders matching `in_scope` (a condition on `orders`, with the bind
    parameters `team_id` and `completed_since`): every entity's text, and the first
    completion (when the scope next ages)."""
    orders, media = Order.__table__.c, Media.__table__.c
    # The scope's orders are read once, for their own texts and to find their media.
    scope = (select(orders.id, orders.version, orders.completed_at).where(in_scope)
             .cte("scope_orders").prefix_with("MATERIALIZED"))
    entities = union_all(
        select(_entity_text("order", scope.c.id, scope.c.version).label("entity"),
               scope.c.completed_at.label("completed_at")),
        select(_entity_text("media", media.id, media.version),
               cast(null(), orders.completed_at.type))
        .select_from(Media.__table__.join(scope, media.order_id == scope.c.id)),
    ).subquery()
    return select(
        func.string_agg(entities.c.entity, literal_column(f"'{_SEPARATOR}'", Text))
        .label("scope_entities"),
        func.min(entities.c.completed_at).label("scope_first_completed"))


@dataclass(frozen=True)
class ScopeSummary:
    """What a delta pull needs of the whole scope: the XOR of the fingerprints of its orders
    and media, the next moment one of its orders ages out, and whether it has media at all."""

    value: int
    next_expiry_ms: int | None
    has_media: bool


def summary_of(joined: str | None, first_completed: dt.datetime | None) -> ScopeSummary:
    """The summary from the two values of `build_statement`'s row."""
    value = 0
    for entity in joined.split(_SEPARATOR) if joined else ():
        value ^= fingerprint_text(entity)
    next_expiry = (None if first_completed is None else
                   int((first_completed + COMPLETED_RETENTION).timestamp() * 1000))
    # `bool()` rules out None, which mypy does not see (`typing.cast`: `cast` is SQL's here).
    return ScopeSummary(value, next_expiry,
                        bool(joined) and "media:" in typing.cast(str, joined))
