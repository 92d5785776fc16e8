"""Tables of the sync engine: processed mutations (exactly once), rejections, merge conflicts
and the reference data tablets sync (cause and resolution codes)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, str64, timestamp, utcnow, uuid_pk

__all__ = ["MergeConflict", "MutationRejection", "ProcessedMutation", "ReferenceData"]


class ProcessedMutation(Base):
    """Every mutation id the server has answered, with what it answered.

    Written in the same transaction as the mutation's effect, so a retry after a lost response
    finds it and gets the original outcome instead of a second application.
    """

    __tablename__ = "processed_mutations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), index=True)
    content_hash: Mapped[str64]
    order_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    order_version: Mapped[int | None] = mapped_column(Integer)
    processed_at: Mapped[timestamp] = mapped_column(default=utcnow)


class MutationRejection(Base):
    """A rejected mutation, kept with its payload so nothing a crew entered disappears."""

    __tablename__ = "mutation_rejections"
    __table_args__ = (Index("ix_mutation_rejections_created", "created_at", "id"),)

    id: Mapped[uuid_pk]
    mutation_id: Mapped[uuid.UUID | None]
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), index=True)
    user_id: Mapped[uuid.UUID | None]
    order_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    mutation_type: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str64] = mapped_column(index=True)
    detail: Mapped[str | None] = mapped_column(Text)
    errors: Mapped[dict[str, Any] | None]
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)


class MergeConflict(Base):
    """Something the merge kept but a person must look at (a second completion, work stored
    after a reassignment or a cancellation)."""

    __tablename__ = "conflicts"
    __table_args__ = (Index("ix_conflicts_open_created", "resolved_at", "created_at"),)

    id: Mapped[uuid_pk]
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    mutation_id: Mapped[uuid.UUID | None]
    device_id: Mapped[uuid.UUID | None]
    #: The mutation as the tablet sent it (for a second completion: the losing one).
    mutation: Mapped[dict[str, Any]]
    details: Mapped[dict[str, Any] | None]
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)


class ReferenceData(Base):
    """A code list the tablet forms need (`cause_codes`, `resolution_codes`), versioned."""

    __tablename__ = "reference_data"

    id: Mapped[str64] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[timestamp] = mapped_column(default=utcnow)
