"""The SLA scan: one `sla_breached` audit event per order and target, never twice.

Safe to run from several processes at once: each breach is claimed by inserting its
`sla_breaches` row (primary key order_id + target, `ON CONFLICT DO NOTHING`) while the order
row is locked, and the audit event is appended only by the transaction whose insert took.
Whoever loses the race inserts nothing and appends nothing. The event does not bump the
order's version (`bump_version=False`): nothing a tablet shows changed, so no tablet is woken.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.config import Settings
from server.domain.audit import SYSTEM
from server.domain.history import lock_order, record_order_change
from server.domain.sla import breached_condition, followup_due_delta, overdue_condition
from server.models.dispatch import SLA_TARGETS, SlaBreach, Visit
from server.models.orders import Order

BATCH_SIZE = 200


@dataclass(frozen=True)
class Breach:
    order_id: uuid.UUID
    target: str
    due_at: dt.datetime


def find_unrecorded_breaches(
    session: Session, settings: Settings, now: dt.datetime
) -> Iterator[Breach]:
    """Breaches known at `now` that have no `sla_breaches` row yet."""
    for target in SLA_TARGETS:
        recorded = (
            select(SlaBreach.order_id)
            .where(SlaBreach.order_id == Order.id, SlaBreach.target == target)
            .exists()
        )
        query = select(Order.id, _due_at(target)).where(
            breached_condition(target, now, settings), ~recorded
        )
        for order_id, due_at in session.execute(query):
            yield Breach(order_id, target, due_at)


def _due_at(target: str):
    """The deadline that was missed, as a SQL expression over the order (and its visits)."""
    if target == "arrival":
        return Order.sla_arrive_by
    if target == "completion":
        return Order.sla_complete_by
    late_visit_due = (
        select(func.min(Visit.due_at))
        .where(
            Visit.order_id == Order.id, Visit.reached.is_(True), Visit.contacted_at > Visit.due_at
        )
        .scalar_subquery()
    )
    # An open follow-up breach has no visit yet: its deadline is derived in Python (portable).
    return late_visit_due.label("due_at")


def record_breach(session: Session, breach: Breach, settings: Settings, now: dt.datetime) -> bool:
    """Claim and record one breach; False when another run recorded it first."""
    order = lock_order(session, breach.order_id)
    due_at = breach.due_at
    if due_at is None and breach.target == "followup" and order.completed_at is not None:
        due_at = order.completed_at + followup_due_delta(settings)
    if due_at is None:
        return False
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    claimed = session.execute(
        insert(SlaBreach)
        .values(order_id=order.id, target=breach.target, due_at=due_at, detected_at=now)
        .on_conflict_do_nothing(index_elements=["order_id", "target"])
        .returning(SlaBreach.order_id)
    ).first()
    if claimed is None:
        return False
    still_open = session.execute(
        select(overdue_condition(breach.target, now, settings)).where(Order.id == order.id)
    ).scalar()
    record_order_change(
        session,
        order,
        action="sla_breached",
        source="system",
        actor=SYSTEM,
        bump_version=False,
        details={
            "target": breach.target,
            "due_at": due_at,
            "detected_at": now,
            "state": "open" if still_open else "met_late",
            "arrived_at": order.arrived_at,
            "completed_at": order.completed_at,
        },
    )
    return True


def run_scan(
    transaction: Callable[[], AbstractContextManager[Session]],
    settings: Settings,
    now: dt.datetime,
) -> Counter[str]:
    """Record every unrecorded breach; returns how many this run recorded, per target.

    `transaction()` opens a committed-on-exit session; breaches are recorded in batches so a
    long backlog never holds many order locks for long.
    """
    with transaction() as session:
        # Every run locks orders in ascending id order, so concurrent runs cannot deadlock.
        pending = sorted(
            find_unrecorded_breaches(session, settings, now),
            key=lambda breach: (breach.order_id, SLA_TARGETS.index(breach.target)),
        )
    recorded: Counter[str] = Counter()
    for start in range(0, len(pending), BATCH_SIZE):
        with transaction() as session:
            for breach in pending[start : start + BATCH_SIZE]:
                if record_breach(session, breach, settings, now):
                    recorded[breach.target] += 1
    return recorded
