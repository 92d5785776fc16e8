"""The append-only, hash-chained audit trail of every order (PROTOCOL.md section 6)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, str64, timestamp


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    #: Found through the unique (order_id, seq) index: an index of its own would only be written.
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[timestamp]
    actor_user_id: Mapped[uuid.UUID | None]
    actor_device_id: Mapped[uuid.UUID | None]
    source: Mapped[str] = mapped_column(String(16))
    action: Mapped[str64]
    changes: Mapped[dict[str, Any]]
    mutation_id: Mapped[uuid.UUID | None]
    hlc: Mapped[str | None] = mapped_column(String(80))
    decision: Mapped[dict[str, Any] | None]
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    #: Extra facts worth keeping (device event time, the rule that assigned, a reason ...).
    details: Mapped[dict[str, Any] | None]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    event_time: Mapped[dt.datetime | None] = mapped_column(comment="device time, when known")
