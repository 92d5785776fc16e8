"""Assigning an order to a team and its crew members: the one path for dispatchers and rules."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.audit import Actor
from server.domain.history import record_order_change
from server.errors import InvalidTransition, ValidationFailed
from server.models.base import utcnow
from server.models.orders import Order
from server.models.people import Team, User

ASSIGNABLE_STATUSES = ("new", "assigned", "en_route", "on_site")


def assign_order(
    session: Session,
    order: Order,
    *,
    team_id: uuid.UUID,
    user_ids: list[uuid.UUID] | None,
    actor: Actor,
    source: str = "staff",
    details: dict[str, Any] | None = None,
) -> Order:
    """Give the order (held locked) to `team_id`; crew members must belong to that team.

    A reassignment to another team starts the work over (`assigned`); the old team's tablets
    learn on their next pull that the order left their scope.
    """
    if order.status not in ASSIGNABLE_STATUSES:
        raise InvalidTransition(f"An order that is {order.status} cannot be assigned.")
    team = session.get(Team, team_id)
    if team is None or not team.active:
        raise ValidationFailed("No such active team.", errors={"team_id": ["Unknown team."]})
    user_ids = list(dict.fromkeys(user_ids or []))
    if user_ids:
        members = set(
            session.scalars(
                select(User.id).where(
                    User.id.in_(user_ids), User.team_id == team_id, User.role == "crew",
                    User.active.is_(True),
                )
            )
        )
        strangers = [str(u) for u in user_ids if u not in members]
        if strangers:
            raise ValidationFailed(
                "Assigned users must be active crew members of the team.",
                errors={"user_ids": [
                    f"Not an active crew member of the team: {', '.join(strangers)}"]},
            )
    before = {"status": order.status, "team_id": order.team_id, "user_ids": order.user_ids}
    prev_team_id = order.team_id
    if order.team_id != team_id or order.status == "new":
        order.status = "assigned"
        order.assigned_at = utcnow()
    order.team_id = team_id
    order.user_ids = [str(u) for u in user_ids]
    after = {"status": order.status, "team_id": order.team_id, "user_ids": order.user_ids}
    record_order_change(
        session, order, action="assigned", source=source, actor=actor,
        changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
        prev_team_id=prev_team_id, details=details,
    )
    return order
