"""Customer-service follow-up visits of completed orders (PROTOCOL.md section 7).

A visit that reaches the customer decides the order: `resolved` closes it, `reopen` sends it
back to its team (or to `new` when the team is gone). A visit that does not reach the customer
changes nothing: the order stays completed and pending. Every visit is a `followup_visit`
audit event (it does not bump the order's version: tablets show no visits); the close or
reopen that follows is its own event naming the visit.

Idempotent on the client's visit id: the same id with the same content answers the stored
visit; the same id with other content is 409 `visit_id_reused`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from server.config import Settings
from server.domain.audit import Actor
from server.domain.history import record_order_change
from server.domain.lifecycle import close_order, reopen_order
from server.domain.pagination import Page, decode_cursor, encode_cursor, keyset_page
from server.domain.sla import followup_due_at, overdue_condition
from server.errors import Conflict, InvalidTransition
from server.models.dispatch import Visit
from server.models.orders import Order

CONTENT_FIELDS = (
    "contacted_at",
    "channel",
    "reached",
    "satisfaction",
    "comment",
    "outcome",
)


class VisitIdReused(Conflict):
    code = "visit_id_reused"


@dataclass(frozen=True)
class VisitOutcome:
    visit: Visit
    #: False when the request replayed a visit already stored: nothing changed.
    created: bool


def _to_ms(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _content(order_id: uuid.UUID, fields: dict[str, Any]) -> dict[str, Any]:
    return {"order_id": order_id, **{name: fields.get(name) for name in CONTENT_FIELDS}}


def _normalised(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        **fields,
        "contacted_at": _to_ms(fields["contacted_at"]),
        "comment": fields.get("comment") or "",
        "satisfaction": fields.get("satisfaction"),
        "outcome": fields.get("outcome"),
    }


def record_visit(
    session: Session,
    settings: Settings,
    order: Order,
    *,
    actor: Actor,
    fields: dict[str, Any],
) -> VisitOutcome:
    """Record a visit of the order (held locked) and apply its outcome."""
    fields = _normalised(fields)
    stored = session.get(Visit, fields["id"])
    if stored is not None:
        if _content(stored.order_id, {n: getattr(stored, n) for n in CONTENT_FIELDS}) != _content(
            order.id, fields
        ):
            raise VisitIdReused(
                "This visit id was already used for another visit; a replay must send the same "
                "content, and a new visit needs a new id."
            )
        return VisitOutcome(stored, created=False)
    if order.status != "completed" or order.completed_at is None:
        raise InvalidTransition(
            f"Only a completed order takes a follow-up visit; this one is {order.status}."
        )
    visit = Visit(
        id=fields["id"],
        order_id=order.id,
        agent_id=actor.user_id,
        due_at=followup_due_at(order.completed_at, settings),
        **{name: fields[name] for name in CONTENT_FIELDS},
    )
    session.add(visit)
    session.flush()
    details = {
        "visit_id": visit.id,
        "channel": visit.channel,
        "reached": visit.reached,
        "satisfaction": visit.satisfaction,
        "outcome": visit.outcome,
        "contacted_at": visit.contacted_at,
        "due_at": visit.due_at,
        "comment": visit.comment,
    }
    record_order_change(
        session,
        order,
        action="followup_visit",
        source="staff",
        actor=actor,
        bump_version=False,
        details=details,
        event_time=visit.contacted_at,
    )
    if visit.reached and visit.outcome == "resolved":
        close_order(session, order, actor=actor, details={"visit_id": visit.id})
    elif visit.reached and visit.outcome == "reopen":
        reopen_order(
            session,
            order,
            actor=actor,
            reason=visit.comment
            or "The customer reported at the follow-up that the problem persists.",
            details={"visit_id": visit.id},
        )
    return VisitOutcome(visit, created=True)


def order_visits(session: Session, order_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    """An order's visits in the order they were recorded."""
    return keyset_page(
        session, select(Visit).where(Visit.order_id == order_id), Visit, limit=limit, cursor=cursor
    )


@dataclass(frozen=True)
class PendingFollowup:
    order: Order
    due_at: dt.datetime
    overdue: bool
    attempts: int
    last_attempt_at: dt.datetime | None


def pending_followups(
    session: Session,
    settings: Settings,
    now: dt.datetime,
    *,
    limit: int,
    cursor: str | None,
    overdue_only: bool = False,
) -> Page:
    """Completed orders awaiting their follow-up, oldest completion first."""
    query = select(Order).where(Order.status == "completed", Order.completed_at.is_not(None))
    if overdue_only:
        query = query.where(overdue_condition("followup", now, settings))
    if cursor:
        completed_at, order_id = decode_cursor(cursor)
        query = query.where(
            or_(
                Order.completed_at > completed_at,
                and_(Order.completed_at == completed_at, Order.id > order_id),
            )
        )
    orders = list(session.scalars(query.order_by(Order.completed_at, Order.id).limit(limit + 1)))
    next_cursor = None
    if len(orders) > limit:
        orders = orders[:limit]
        next_cursor = encode_cursor(orders[-1].completed_at, orders[-1].id)
    attempts = (
        {
            order_id: (count, last)
            for order_id, count, last in session.execute(
                select(Visit.order_id, func.count(), func.max(Visit.contacted_at))
                .join(Order, Order.id == Visit.order_id)
                # Attempts since the latest completion; a reopened order starts over.
                .where(
                    Visit.order_id.in_([o.id for o in orders]),
                    Visit.created_at >= Order.completed_at,
                )
                .group_by(Visit.order_id)
            )
        }
        if orders
        else {}
    )
    items = []
    for order in orders:
        due_at = followup_due_at(order.completed_at, settings)
        count, last = attempts.get(order.id, (0, None))
        items.append(PendingFollowup(order, due_at, due_at < now, count, last))
    return Page(items, next_cursor)
