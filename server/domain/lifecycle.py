"""Lifecycle moves made by people or follow-ups, not by crews: cancel, reopen and close.

Each function takes the order already locked (`history.lock_order` or
`scope.get_visible_order(for_update=True)`), applies the move and records it through
`record_order_change`, so the audit trail and the change feed see it like any other change.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.audit import Actor
from server.domain.history import record_order_change
from server.errors import InvalidTransition
from server.json_provider import to_rfc3339
from server.models.base import utcnow
from server.models.orders import Order
from server.models.people import Team, User

TERMINAL_STATUSES = ("completed", "closed", "cancelled")
REOPENABLE_STATUSES = ("completed", "closed")


def _snapshot(order: Order, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(order, name) for name in names}


def _changes(before: dict[str, Any], order: Order) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for the fields that actually changed."""
    return {
        name: [value, getattr(order, name)]
        for name, value in before.items()
        if getattr(order, name) != value
    }


def cancel_order(
    session: Session, order: Order, *, actor: Actor, reason: str, source: str = "staff",
) -> Order:
    """Cancel an order that is not finished yet; crews holding it get a `remove` on next pull."""
    if order.status in TERMINAL_STATUSES:
        raise InvalidTransition(f"An order that is {order.status} cannot be cancelled.")
    before = _snapshot(order, ("status", "cancelled_at", "cancel_reason"))
    order.status = "cancelled"
    order.cancelled_at = utcnow()
    order.cancel_reason = reason
    record_order_change(
        session, order, action="cancelled", source=source, actor=actor,
        changes=_changes(before, order), details={"reason": reason},
    )
    return order


def _active_team(session: Session, team_id: uuid.UUID | None) -> Team | None:
    if team_id is None:
        return None
    team = session.get(Team, team_id)
    return team if team is not None and team.active else None


def _still_crew_of(session: Session, team_id: uuid.UUID, user_ids: list[Any]) -> list[str]:
    """The assigned users who are still active crew members of the team, in their order."""
    if not user_ids:
        return []
    wanted = [uuid.UUID(str(u)) for u in user_ids]
    members = set(
        session.scalars(
            select(User.id).where(
                User.id.in_(wanted), User.team_id == team_id, User.role == "crew",
                User.active.is_(True),
            )
        )
    )
    return [str(u) for u in wanted if u in members]


def reopen_order(
    session: Session,
    order: Order,
    *,
    actor: Actor,
    reason: str,
    source: str = "staff",
    details: dict[str, Any] | None = None,
) -> Order:
    """Send a completed or closed order back for more work, keeping its history.

    It goes back to its team (re-entering that crew's pull) when the team is still active,
    otherwise to `new` with no team. The completion moves to `field_state.previous_completions`,
    and `field_state.reopened_at` lets the merge ignore completions stamped before the reopen.
    """
    if order.status not in REOPENABLE_STATUSES:
        raise InvalidTransition(f"An order that is {order.status} cannot be reopened.")
    before = _snapshot(order, (
        "status", "team_id", "user_ids", "completion", "completed_at", "closed_at", "reopen_count",
    ))
    prev_team_id = order.team_id
    now = utcnow()
    team = _active_team(session, order.team_id)
    if team is not None:
        order.status = "assigned"
        order.user_ids = _still_crew_of(session, team.id, list(order.user_ids or []))
    else:
        order.status = "new"
        order.team_id = None
        order.user_ids = []
    order.assigned_at = now if team is not None else None
    field_state = dict(order.field_state or {})
    if order.completion is not None:
        field_state["previous_completions"] = [
            *field_state.get("previous_completions", []), order.completion,
        ]
    field_state["reopened_at"] = to_rfc3339(now)
    order.field_state = field_state
    order.completion = None
    order.completed_at = None
    order.closed_at = None
    order.reopen_count = (order.reopen_count or 0) + 1
    record_order_change(
        session, order, action="reopened", source=source, actor=actor,
        changes=_changes(before, order), prev_team_id=prev_team_id,
        details={"reason": reason, **(details or {})},
    )
    return order


def close_order(
    session: Session,
    order: Order,
    *,
    actor: Actor,
    source: str = "staff",
    details: dict[str, Any] | None = None,
) -> Order:
    """Close a completed order (the customer confirmed it); it leaves the crew's scope."""
    if order.status != "completed":
        raise InvalidTransition(f"An order that is {order.status} cannot be closed.")
    before = _snapshot(order, ("status", "closed_at"))
    order.status = "closed"
    order.closed_at = utcnow()
    record_order_change(
        session, order, action="closed", source=source, actor=actor,
        changes=_changes(before, order), details=details,
    )
    return order
