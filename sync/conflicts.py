"""Conflicts a dispatcher settles: listing them and resolving one (audited like any change)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from server.domain.audit import Actor
from server.domain.history import lock_order, record_order_change
from server.domain.pagination import Page, keyset_page
from server.errors import InvalidTransition, NotFound
from server.models.base import utcnow
from server.models.sync import MergeConflict
from sync import merge
from sync.push import MERGED_COLUMNS, write_merged_columns

RESOLUTIONS = ("keep_current", "accept_mutation")


def list_conflicts(session: Session, *, order_id: uuid.UUID | None = None,
                   open_only: bool | None = None, limit: int, cursor: str | None) -> Page:
    query = select(MergeConflict)
    if order_id is not None:
        query = query.where(MergeConflict.order_id == order_id)
    if open_only is True:
        query = query.where(MergeConflict.resolved_at.is_(None))
    elif open_only is False:
        query = query.where(MergeConflict.resolved_at.is_not(None))
    return keyset_page(session, query, MergeConflict, limit=limit, cursor=cursor)


def resolve_conflict(session: Session, conflict_id: uuid.UUID, *, resolution: str,
                     comment: str | None, actor: Actor) -> MergeConflict:
    """Settle one conflict; the order leaves review once none of its conflicts is open.

    `accept_mutation` on a second completion makes the losing completion the order's
    completion; on work stored after a reassignment or cancellation the work is already
    stored, so both resolutions only record the dispatcher's decision.
    """
    conflict = session.get(MergeConflict, conflict_id)
    if conflict is None:
        raise NotFound("No such conflict.")
    order = lock_order(session, conflict.order_id)
    session.refresh(conflict)
    if conflict.resolved_at is not None:
        raise InvalidTransition("This conflict is already resolved.")
    before = {name: getattr(order, name) for name in MERGED_COLUMNS}
    if resolution == "accept_mutation" and conflict.kind == "second_completion":
        state = merge.state_from_field_state(order.field_state or {}, order.status,
                                             order.needs_review, order.notes or [])
        chosen = str(conflict.mutation_id)
        if chosen not in merge.eligible_completions(state):
            raise InvalidTransition("That completion no longer counts (the order was reopened).")
        state["completion_choice"] = chosen
        write_merged_columns(session, order, merge.project(state))
        order.field_state = merge.field_state_from_state(order.field_state or {}, state)
    conflict.resolved_at = utcnow()
    conflict.resolved_by = actor.user_id
    conflict.resolution = resolution
    conflict.comment = comment
    session.flush()
    still_open = session.scalar(select(exists().where(
        MergeConflict.order_id == order.id, MergeConflict.resolved_at.is_(None))))
    if not still_open:
        order.needs_review = False
    changes = {name: [before[name], getattr(order, name)] for name in MERGED_COLUMNS
               if before[name] != getattr(order, name)}
    details: dict[str, Any] = {"conflict_id": conflict.id, "kind": conflict.kind,
                               "resolution": resolution, "comment": comment,
                               "mutation_id": conflict.mutation_id}
    record_order_change(session, order, action="conflict_resolved", source="staff", actor=actor,
                        changes=changes, details=details, bump_version=bool(changes))
    return conflict
