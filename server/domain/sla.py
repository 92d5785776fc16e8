"""SLA deadlines per priority and the SQL conditions for overdue orders and recorded breaches.

Compliance is judged on the on-site times (`arrived_at`, `completed_at`), which the sync
engine sets from the device's event time corrected by its measured clock skew; so an arrival
recorded offline at 10:05 and synced at 13:00 meets a 10:30 target.

Two notions, on purpose:
- *overdue* (`overdue_condition`, the `GET /orders?overdue=` filter) is the work list of open
  breaches: the target is not met yet, the order is still working towards it, and its
  deadline has passed. An order that arrived late is no longer overdue for arrival.
- *breached* (`breached_condition`, the SLA scan) is every breach known at `now`: the open
  ones plus the targets met late.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.sql import ColumnElement

from server.config import Settings
from server.models.dispatch import SLA_TARGETS, Visit
from server.models.orders import Order

#: Statuses in which an order still works towards each target.
AWAITING_ARRIVAL = ("new", "assigned", "en_route")
AWAITING_COMPLETION = ("new", "assigned", "en_route", "on_site")
#: A completed order awaits its follow-up until a visit reaches the customer (which closes or
#: reopens it), so "completed" is exactly "follow-up pending".
AWAITING_FOLLOWUP = ("completed",)


def apply_default_deadlines(order: Order, settings: Settings) -> None:
    """Fill `sla_arrive_by` / `sla_complete_by` the creator left out, from per-priority targets."""
    windows = settings.sla_windows.get(order.priority)
    if windows is None:
        return
    arrive_within, complete_within = windows
    if order.sla_arrive_by is None:
        order.sla_arrive_by = order.created_at + arrive_within
    if order.sla_complete_by is None:
        order.sla_complete_by = order.created_at + complete_within


def followup_due_delta(settings: Settings) -> dt.timedelta:
    return dt.timedelta(hours=settings.followup_due_hours)


def followup_due_at(completed_at: dt.datetime, settings: Settings) -> dt.datetime:
    """When the follow-up call of an order completed at `completed_at` is due."""
    return completed_at + followup_due_delta(settings)


def overdue_condition(
    kind: str, now: dt.datetime, settings: Settings
) -> ColumnElement[bool]:
    """SQL condition for orders whose `kind` target (arrival, completion, followup) is breached
    and still open at `now`; used by `GET /orders?overdue=`.

    `settings` gives the follow-up delay.
    """
    if kind == "arrival":
        return and_(
            Order.arrived_at.is_(None),
            Order.status.in_(AWAITING_ARRIVAL),
            Order.sla_arrive_by < now,
        )
    if kind == "completion":
        return and_(
            Order.completed_at.is_(None),
            Order.status.in_(AWAITING_COMPLETION),
            Order.sla_complete_by < now,
        )
    if kind == "followup":
        return and_(
            Order.status.in_(AWAITING_FOLLOWUP),
            Order.completed_at < now - followup_due_delta(settings),
        )
    raise ValueError(f"unknown SLA target {kind!r}; expected one of {', '.join(SLA_TARGETS)}")


def breached_condition(kind: str, now: dt.datetime, settings: Settings) -> ColumnElement[bool]:
    """SQL condition for every breach of `kind` known at `now`: open, or met after the deadline."""
    if kind == "arrival":
        late = and_(Order.arrived_at.is_not(None), Order.arrived_at > Order.sla_arrive_by)
    elif kind == "completion":
        late = and_(Order.completed_at.is_not(None), Order.completed_at > Order.sla_complete_by)
    elif kind == "followup":
        late = exists(
            select(Visit.id).where(
                Visit.order_id == Order.id,
                Visit.reached.is_(True),
                Visit.contacted_at > Visit.due_at,
            )
        )
    else:
        raise ValueError(f"unknown SLA target {kind!r}")
    return or_(overdue_condition(kind, now, settings), late)
