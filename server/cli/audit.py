"""Audit commands: `verify-audit` recomputes every order's hash chain (PROTOCOL.md section 6)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import db
from server.domain.audit import verify_chain
from server.models.audit import AuditEvent
from server.models.orders import Order

BATCH_SIZE = 200


@dataclass
class ChainReport:
    orders: int = 0
    events: int = 0
    #: order number -> the problems found in its chain
    broken: dict[str, list[str]] = field(default_factory=dict)


def _order_batches(session: Session, batch_size: int) -> Iterator[list[Order]]:
    """Every order, `batch_size` at a time in id order, so memory stays flat on big databases."""
    after: uuid.UUID | None = None
    while True:
        query = select(Order).order_by(Order.id).limit(batch_size)
        if after is not None:
            query = query.where(Order.id > after)
        batch = list(session.scalars(query))
        if not batch:
            return
        yield batch
        after = batch[-1].id
        session.expunge_all()


def verify_all_chains(session: Session, batch_size: int = BATCH_SIZE) -> ChainReport:
    """Check the chain of every order against its recorded head."""
    report = ChainReport()
    for batch in _order_batches(session, batch_size):
        events: dict[uuid.UUID, list[AuditEvent]] = defaultdict(list)
        for event in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.order_id.in_([order.id for order in batch]))
            .order_by(AuditEvent.order_id, AuditEvent.seq)
        ):
            events[event.order_id].append(event)
        for order in batch:
            report.orders += 1
            report.events += len(events[order.id])
            problems = verify_chain(order, events[order.id])
            if problems:
                report.broken[order.number] = problems
    return report


@click.command("verify-audit")
@with_appcontext
def verify_audit() -> None:
    """Recompute every order's audit hash chain; exit 1 if any chain is broken."""
    session = db.new_session(write=False)
    try:
        report = verify_all_chains(session)
    finally:
        session.close()
    for number, problems in report.broken.items():
        click.echo(f"{number}: BROKEN")
        for problem in problems:
            click.echo(f"  - {problem}")
    if report.broken:
        click.echo(
            f"{len(report.broken)} of {report.orders} orders have a broken audit chain.", err=True
        )
        raise SystemExit(1)
    click.echo(f"checked {report.orders} orders and {report.events} events: every chain holds")


commands = [verify_audit]
