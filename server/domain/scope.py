"""Object-level authorization in one place: which orders a caller may see and change.

A crew device's scope is every order assigned to its team (crew members are assigned within
their own team) that is not cancelled or closed, plus completed ones for 7 days. Anything
outside it answers 404, exactly as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.errors import NotFound
from server.models.base import utcnow
from server.models.orders import Order

ACTIVE_STATUSES = ("assigned", "en_route", "on_site")
COMPLETED_RETENTION = dt.timedelta(days=7)


def scope_condition(team_id: uuid.UUID | None, now: dt.datetime | None = None):
    """SQL condition for the orders in a crew team's scope at `now`."""
    now = now or utcnow()
    return and_(
        Order.team_id == team_id,
        or_(
            Order.status.in_(ACTIVE_STATUSES),
            and_(Order.status == "completed", Order.completed_at >= now - COMPLETED_RETENTION),
        ),
    )


def in_scope(order: Order, team_id: uuid.UUID | None, now: dt.datetime | None = None) -> bool:
    """The same rule as `scope_condition`, for an order already loaded."""
    if team_id is None or order.team_id != team_id:
        return False
    if order.status in ACTIVE_STATUSES:
        return True
    if order.status == "completed" and order.completed_at is not None:
        return order.completed_at >= (now or utcnow()) - COMPLETED_RETENTION
    return False


def visible_orders(principal: Principal) -> Select:
    """`select(Order)` narrowed to what the caller may see."""
    query = select(Order)
    if principal.is_device or principal.role == "crew":
        query = query.where(scope_condition(principal.team_id))
    return query


def get_visible_order(
    session: Session, principal: Principal, order_id: uuid.UUID, *, for_update: bool = False
) -> Order:
    """The order if the caller may see it; 404 `not_found` otherwise."""
    query = visible_orders(principal).where(Order.id == order_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    order = session.scalars(query).one_or_none()
    if order is None:
        raise NotFound("No such order.")
    return order
