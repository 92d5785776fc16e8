"""Object-level authorization in one place: which orders a caller may see and change.

A crew device's scope is every order assigned to its team (crew members are assigned within
their own team) that is not cancelled or closed, plus completed ones for 7 days. Anything
outside it answers 404, exactly as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.domain.audit import order_events
from server.domain.order_row import OrderRow
from server.errors import NotFound
from server.models.base import utcnow
from server.models.feed import ChangeLog
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


def ever_assigned_to(session: Session, order: OrderRow, team_id: uuid.UUID | None) -> bool:
    """Was the order ever given to this team? The feed says so; the audit trail outlives it."""
    if team_id is None:
        return False
    if order.team_id == team_id:
        return True
    in_feed = session.scalar(select(exists().where(
        ChangeLog.order_id == order.id,
        (ChangeLog.team_id == team_id) | (ChangeLog.prev_team_id == team_id),
    )))
    if in_feed:
        return True
    wanted = str(team_id)
    return any(
        wanted in [str(value) for value in (event.changes or {}).get("team_id", [])]
        for event in order_events(session, order.id)
    )


def foreign_work_kind(order: OrderRow, team_id: uuid.UUID | None) -> str | None:
    """The conflict kind when a crew's work reaches an order dispatch took away meanwhile."""
    if order.status == "cancelled":
        return "work_after_cancellation"
    if order.team_id != team_id:
        return "work_after_reassignment"
    return None


def get_order_for_field_work(
    session: Session, principal: Principal, order_id: uuid.UUID
) -> tuple[Order, str | None]:
    """The order a caller may add field work to, and the review kind when it left the crew.

    Work done offline is never refused because dispatch moved the order meanwhile: a device
    whose team ever held the order may still add to it (PROTOCOL.md section 4, merge rules).
    """
    if not principal.is_device:
        return get_visible_order(session, principal, order_id), None
    order = session.get(Order, order_id)
    if order is None or not ever_assigned_to(session, order, principal.team_id):
        raise NotFound("No such order.")
    if in_scope(order, principal.team_id):
        return order, None
    return order, foreign_work_kind(order, principal.team_id)
