"""Work orders, their human-readable numbers and create-request idempotency keys."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, str64, str200, timestamp, utcnow, uuid_pk

SOURCES = ("hotline", "patrol", "monitoring", "portal", "followup")
KINDS = ("fault_repair", "maintenance", "installation", "inspection")
PRIORITIES = ("urgent", "high", "normal", "low")
#: Lifecycle in rank order; `cancelled` is terminal beside it (rank None).
STATUS_RANK = {"new": 0, "assigned": 1, "en_route": 2, "on_site": 3, "completed": 4, "closed": 5}
STATUSES = (*STATUS_RANK, "cancelled")
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


class Order(Base):
    """A work order: dispatch details, the field data crews sync, and its audit chain head."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_team_status", "team_id", "status"),
        Index("ix_orders_status_updated", "status", "updated_at"),
        # KPI ranges and the staff list page by creation time; follow-ups by completion time.
        Index("ix_orders_created_at", "created_at"),
        Index("ix_orders_status_completed", "status", "completed_at"),
    )

    id: Mapped[uuid_pk]
    number: Mapped[str] = mapped_column(String(32), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))
    title: Mapped[str200]
    description: Mapped[str] = mapped_column(Text, default="")
    customer_name: Mapped[str200] = mapped_column(default="")
    customer_phone: Mapped[str | None] = mapped_column(String(40))
    customer_account: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(400), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    asset_ref: Mapped[str | None] = mapped_column(String(64))
    required_skills: Mapped[list[Any]] = mapped_column(default=list)
    sla_arrive_by: Mapped[dt.datetime | None]
    sla_complete_by: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="new")
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))
    user_ids: Mapped[list[Any]] = mapped_column(default=list)

    # Field data, as merged from crew mutations (sync/merge.py owns the rules).
    arrival: Mapped[dict[str, Any] | None]
    cause: Mapped[dict[str, Any] | None]
    eta: Mapped[dict[str, Any] | None]
    completion: Mapped[dict[str, Any] | None]
    notes: Mapped[list[Any]] = mapped_column(default=list)
    #: Summary of the media attached ({id, kind, sha256, ...}), kept by media/ as uploads land.
    media: Mapped[list[Any]] = mapped_column(default=list)
    #: Merge bookkeeping that is not shown as such (every arrival, losing completions, ...).
    field_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)

    # When things happened, as plain columns for filters, scope aging, SLA and KPIs.
    assigned_at: Mapped[dt.datetime | None]
    arrived_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(400))
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)

    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[timestamp] = mapped_column(default=utcnow)
    # Head of the audit hash chain, so that deleting the newest events is detected too.
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_head: Mapped[str] = mapped_column(String(64), default="0" * 64)


class OrderNumberCounter(Base):
    """One row per year; incremented under a row lock so numbers never collide."""

    __tablename__ = "order_number_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyKey(Base):
    """`Idempotency-Key` of a create request, with a hash of its body and what it created."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str64]
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
