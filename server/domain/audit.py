"""Appending to and verifying the hash-chained audit trail (PROTOCOL.md section 6).

The hash covers the event exactly as the API serves it, without its `hash` member, as
canonical JSON; so anyone holding the trail can recompute the chain. Every event is rendered
from its columns, so an edit of any column in SQL breaks the chain, and the order keeps the
chain head so that deleting the newest events is detected as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.order_row import OrderRow
from server.json_provider import to_rfc3339
from server.models.audit import AuditEvent
from server.models.base import utcnow_ms
from server.models.orders import Order
from server.plain_json import canonical_json, jsonable

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who caused a change: a user, a device (with its user), or the system (neither)."""

    user_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None


SYSTEM = Actor()


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def event_document(event: AuditEvent | SimpleNamespace) -> dict[str, Any]:
    """The event as `GET /orders/{id}/audit` serves it, without `hash`."""
    return {
        "order_id": str(event.order_id),
        "seq": event.seq,
        "at": to_rfc3339(event.at),
        "event_time": to_rfc3339(event.event_time) if event.event_time else None,
        "actor": {
            "user_id": _str_or_none(event.actor_user_id),
            "device_id": _str_or_none(event.actor_device_id),
        },
        "source": event.source,
        "action": event.action,
        "changes": event.changes,
        "mutation_id": _str_or_none(event.mutation_id),
        "hlc": event.hlc,
        "decision": event.decision,
        "media_sha256": event.media_sha256,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }


def chain_hash(prev_hash: str, document: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(document)).encode("utf-8")).hexdigest()


def serve_event(event: AuditEvent) -> dict[str, Any]:
    return {**event_document(event), "hash": event.hash}


def append_event(
    session: Session,
    order: OrderRow,
    *,
    action: str,
    source: str,
    actor: Actor,
    changes: dict[str, Any] | None = None,
    mutation_id: uuid.UUID | None = None,
    hlc: str | None = None,
    decision: dict[str, Any] | None = None,
    media_sha256: str | None = None,
    details: dict[str, Any] | None = None,
    event_time: dt.datetime | None = None,
    into: list[dict[str, Any]] | None = None,
) -> None:
    """Append one event to the order's chain. The caller holds the order row locked.

    `into` collects the event's row instead of adding it to the session, for a caller that
    inserts many events with one statement (a push batch).
    """
    if event_time is not None:
        event_time = event_time.replace(microsecond=event_time.microsecond // 1000 * 1000)
    row = {
        "order_id": order.id,
        "seq": order.audit_seq + 1,
        "at": utcnow_ms(),
        "event_time": event_time,
        "actor_user_id": actor.user_id,
        "actor_device_id": actor.device_id,
        "source": source,
        "action": action,
        "changes": jsonable(changes or {}),
        "mutation_id": mutation_id,
        "hlc": hlc,
        "decision": jsonable(decision) if decision is not None else None,
        "media_sha256": media_sha256,
        "details": jsonable(details) if details is not None else None,
        "prev_hash": order.audit_head,
    }
    row["hash"] = chain_hash(row["prev_hash"], event_document(SimpleNamespace(**row)))
    order.audit_seq = row["seq"]
    order.audit_head = row["hash"]
    if into is not None:
        into.append(row)
    else:
        session.add(AuditEvent(**row))


def order_events(session: Session, order_id: uuid.UUID) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.order_id == order_id).order_by(AuditEvent.seq)
        )
    )


def verify_chain(order: Order, events: list[AuditEvent]) -> list[str]:
    """Every break in one order's chain, as sentences; empty when the chain holds."""
    problems: list[str] = []
    prev_hash = GENESIS_HASH
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            problems.append(f"event seq {event.seq} found where {expected_seq} was expected")
        if event.order_id != order.id:
            problems.append(f"event seq {event.seq} belongs to another order")
        if event.prev_hash != prev_hash:
            problems.append(f"event seq {event.seq} does not link to the event before it")
        if chain_hash(event.prev_hash, event_document(event)) != event.hash:
            problems.append(f"event seq {event.seq} was altered (hash mismatch)")
        prev_hash = event.hash
    if len(events) != order.audit_seq or prev_hash != order.audit_head:
        problems.append(
            f"chain head mismatch: order records {order.audit_seq} events, found {len(events)}"
        )
    return problems
