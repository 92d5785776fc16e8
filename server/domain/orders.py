"""Creating and editing work orders: unique human-readable numbers, SLA defaults, assignment
rules, idempotent creation and detail edits that record only what changed."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.config import Settings
from server.domain import assignment_rules, sla
from server.domain.assignment import assign_order
from server.domain.audit import Actor
from server.domain.history import record_order_change
from server.errors import IdempotencyKeyReused, InvalidTransition
from server.models.base import utcnow
from server.models.orders import IdempotencyKey, Order, OrderNumberCounter
from server.plain_json import canonical_json, jsonable

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
    *, order_id: uuid.UUID | None = None, run_rules: bool = True,
) -> Order:
    """Create an order, fill SLA deadlines the creator left out, then run assignment rules
    (unless the creator assigns it in the same request: `run_rules=False`)."""
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
    if run_rules:
        assignment_rules.run_on_create(session, settings, order)
    return order


def find_order_by_number(session: Session, number: str) -> Order | None:
    return session.scalars(select(Order).where(Order.number == number)).one_or_none()


#: Columns a detail edit may change; status, assignment and field data have their own paths.
EDITABLE_FIELDS = (
    "priority", "title", "description", "customer_name", "customer_phone", "customer_account",
    "address", "lat", "lon", "asset_ref", "required_skills", "sla_arrive_by", "sla_complete_by",
)
#: Orders whose details are frozen.
FROZEN_STATUSES = ("cancelled", "closed")


def columns_from_input(data: dict[str, Any]) -> dict[str, Any]:
    """Flatten the API shape (`customer`, `location`, `sla` objects) into order columns.

    Only members present in `data` appear, so the result serves creates and partial edits alike;
    `location: null` clears both coordinates.
    """
    columns = {
        name: data[name]
        for name in ("source", "kind", "priority", "title", "description", "address",
                     "asset_ref", "required_skills")
        if name in data
    }
    for member, value in (data.get("customer") or {}).items():
        columns[f"customer_{member}"] = value
    if "location" in data:
        location = data["location"] or {"lat": None, "lon": None}
        columns["lat"], columns["lon"] = location["lat"], location["lon"]
    for member, value in (data.get("sla") or {}).items():
        columns[f"sla_{member}"] = value
    if "required_skills" in columns:
        columns["required_skills"] = list(dict.fromkeys(columns["required_skills"]))
    return columns


def request_fingerprint(data: dict[str, Any]) -> str:
    """sha256 of the parsed request as canonical JSON: equal for equal requests however sent."""
    return hashlib.sha256(canonical_json(jsonable(data)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CreateOutcome:
    order: Order
    #: True when an `Idempotency-Key` matched an earlier identical request: nothing was created.
    replayed: bool


def _replay(session: Session, user_id: uuid.UUID, key: str, fingerprint: str) -> Order | None:
    """The order an earlier request with this key created, or None if the key is new."""
    stored = session.get(IdempotencyKey, (user_id, key), populate_existing=True)
    if stored is None:
        return None
    if stored.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body."
        )
    return session.get(Order, stored.order_id)


def create_order_from_request(
    session: Session,
    settings: Settings,
    actor: Actor,
    data: dict[str, Any],
    *,
    idempotency_key: str | None = None,
) -> CreateOutcome:
    """`POST /orders`: create (and optionally assign) an order, at most once per key and user.

    A concurrent request with the same key may commit first; then our insert of the key fails,
    the savepoint undoes our order (and its pending feed entry) and we answer with theirs.
    """
    columns = columns_from_input(data)
    assignment = data.get("assignment")
    if idempotency_key is None or actor.user_id is None:
        order = _create_and_assign(session, settings, actor, columns, assignment)
        return CreateOutcome(order, replayed=False)
    fingerprint = request_fingerprint(data)
    earlier = _replay(session, actor.user_id, idempotency_key, fingerprint)
    if earlier is not None:
        return CreateOutcome(earlier, True)
    try:
        with session.begin_nested():
            order = _create_and_assign(session, settings, actor, columns, assignment)
            session.add(IdempotencyKey(
                user_id=actor.user_id, key=idempotency_key, request_hash=fingerprint,
                order_id=order.id,
            ))
            session.flush()
    except IntegrityError:
        earlier = _replay(session, actor.user_id, idempotency_key, fingerprint)
        if earlier is None:
            raise
        return CreateOutcome(earlier, True)
    return CreateOutcome(order, False)


def _create_and_assign(
    session: Session, settings: Settings, actor: Actor, columns: dict[str, Any],
    assignment: dict[str, Any] | None,
) -> Order:
    order = create_order(session, settings, actor, columns, run_rules=assignment is None)
    if assignment is not None:
        assign_order(
            session, order, team_id=assignment["team_id"], user_ids=assignment["user_ids"],
            actor=actor,
        )
    return order


def edit_order_details(
    session: Session, order: Order, columns: dict[str, Any], *, actor: Actor,
    source: str = "staff",
) -> bool:
    """Apply a detail edit to the locked order; record only fields that changed.

    Returns False (and changes nothing, not even the version) when every value is already set.
    """
    if order.status in FROZEN_STATUSES:
        raise InvalidTransition(f"The details of a {order.status} order cannot be edited.")
    changes = {
        name: [getattr(order, name), value]
        for name, value in columns.items()
        if name in EDITABLE_FIELDS and getattr(order, name) != value
    }
    if not changes:
        return False
    for name, (_before, after) in changes.items():
        setattr(order, name, after)
    record_order_change(
        session, order, action="edited", source=source, actor=actor, changes=changes
    )
    return True
