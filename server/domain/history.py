"""The one write path of an order change: version bump, audit event and change-feed entry.

Every source of change (staff edits, crew pushes, uploads, visits, rules, SLA scans) goes
through `record_order_change`, so tablets learn of it on their next pull and the audit trail
has one event per change.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.audit import Actor, append_event
from server.domain.order_row import OrderRow
from server.errors import NotFound
from server.models.base import utcnow
from server.models.orders import Order
from sync import feed

_UNCHANGED = object()


def lock_order(session: Session, order_id: uuid.UUID) -> Order:
    """Load an order with its row locked for the rest of the transaction (404 if absent)."""
    order = session.scalars(
        select(Order).where(Order.id == order_id).with_for_update().execution_options(
            populate_existing=True
        )
    ).one_or_none()
    if order is None:
        raise NotFound("No such order.")
    return order


def record_order_change(
    session: Session,
    order: OrderRow,
    *,
    action: str,
    source: str,
    actor: Actor,
    changes: dict[str, Any] | None = None,
    prev_team_id: Any = _UNCHANGED,
    bump_version: bool = True,
    **audit_fields: Any,
) -> None:
    """Record a change already applied to `order` (which the caller holds locked).

    `prev_team_id` is the team before this change when the change moved the order.
    `bump_version=False` is for events that change nothing a client sees (an SLA breach).
    """
    if bump_version:
        order.version += 1
        order.updated_at = utcnow()
    append_event(
        session, order, action=action, source=source, actor=actor, changes=changes,
        **audit_fields,
    )
    if bump_version:
        feed.record(
            session,
            entity_type="order",
            entity_id=order.id,
            version=order.version,
            order_id=order.id,
            team_id=order.team_id,
            prev_team_id=order.team_id if prev_team_id is _UNCHANGED else prev_team_id,
        )
