"""Creating work orders: unique human-readable numbers, SLA defaults, assignment rules."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.config import Settings
from server.domain import assignment_rules, sla
from server.domain.audit import Actor
from server.domain.history import record_order_change
from server.models.base import utcnow
from server.models.orders import Order, OrderNumberCounter

ORDER_FIELDS = (
    "source", "kind", "priority", "title", "description", "customer_name", "customer_phone",
    "customer_account", "address", "lat", "lon", "asset_ref", "required_skills",
    "sla_arrive_by", "sla_complete_by",
)


def next_order_number(session: Session, year: int) -> str:
    """`WO-<year>-<6 digits>`, unique under concurrency: the counter row is locked until commit."""
    value = session.execute(
        update(OrderNumberCounter)
        .where(OrderNumberCounter.year == year)
        .values(value=OrderNumberCounter.value + 1)
        .returning(OrderNumberCounter.value)
    ).scalar_one_or_none()
    if value is None:
        try:
            with session.begin_nested():
                session.execute(insert(OrderNumberCounter).values(year=year, value=1))
            value = 1
        except IntegrityError:  # another transaction created this year's row first
            return next_order_number(session, year)
    return f"WO-{year}-{value:06d}"


def create_order(
    session: Session, settings: Settings, actor: Actor, fields: dict[str, Any],
    *, order_id: uuid.UUID | None = None,
) -> Order:
    """Create an order, fill SLA deadlines the creator left out, then run assignment rules."""
    now = utcnow()
    order = Order(
        id=order_id or uuid.uuid4(),
        number=next_order_number(session, now.year),
        status="new",
        version=0,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
        **{name: fields[name] for name in ORDER_FIELDS if name in fields},
    )
    order.required_skills = list(order.required_skills or [])
    sla.apply_default_deadlines(order, settings)
    session.add(order)
    session.flush()
    record_order_change(
        session, order, action="created", source="staff" if actor.user_id else "system",
        actor=actor,
        changes={name: [None, getattr(order, name)] for name in ORDER_FIELDS
                 if getattr(order, name) not in (None, "", [])},
    )
    assignment_rules.run_on_create(session, settings, order)
    return order


def find_order_by_number(session: Session, number: str) -> Order | None:
    return session.scalars(select(Order).where(Order.number == number)).one_or_none()
