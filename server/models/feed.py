"""The change feed: one row per change to a synced entity, in commit order (DESIGN.md section 3)."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, str64, timestamp, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class ChangeLog(Base):
    """`pos` is handed out at commit time under a row lock, so it follows commit order."""

    __tablename__ = "change_log"
    __table_args__ = (
        Index("ix_change_log_team_pos", "team_id", "pos"),
        Index("ix_change_log_prev_team_pos", "prev_team_id", "pos"),
    )

    pos: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str64]
    order_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    #: The order's team after the change, and before it (equal unless it was reassigned).
    team_id: Mapped[uuid.UUID | None]
    prev_team_id: Mapped[uuid.UUID | None]
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[timestamp] = mapped_column(default=utcnow)


class FeedState(Base):
    """A single row: the last position handed out and the lowest one still retained."""

    __tablename__ = "feed_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_pos: Mapped[int] = mapped_column(BigId, default=0)
    pruned_below: Mapped[int] = mapped_column(BigId, default=0)
