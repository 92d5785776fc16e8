"""Dispatch-centre tables: automatic assignment rules, recorded SLA breaches, follow-up visits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, str200, timestamp, utcnow, uuid_pk

__all__ = ["AssignmentRule", "SlaBreach", "Visit"]

SLA_TARGETS = ("arrival", "completion", "followup")
VISIT_CHANNELS = ("phone", "onsite", "sms")
VISIT_OUTCOMES = ("resolved", "reopen")


class AssignmentRule(Base):
    """One rule: conditions on a new order and what to do when they all hold.

    Rules are tried by ascending `position` (ties by creation time); the first match applies.
    """

    __tablename__ = "assignment_rules"

    id: Mapped[uuid_pk]
    name: Mapped[str200]
    position: Mapped[int] = mapped_column(Integer, index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: `{source: [..], kind: [..], priority: [..], required_skills: {mode, skills}, area: {..}}`
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: `{"type": "best_suggestion"}` or `{"type": "fixed_team", "team_id": "..."}`
    action: Mapped[dict[str, Any]]
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[timestamp] = mapped_column(default=utcnow)


class SlaBreach(Base):
    """The breach of one order's target, recorded once: the primary key makes the scan idempotent
    across runs and across processes running at the same time."""

    __tablename__ = "sla_breaches"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    due_at: Mapped[timestamp]
    detected_at: Mapped[timestamp] = mapped_column(default=utcnow)


class Visit(Base):
    """A customer-service follow-up of a completed order; the id is the client's."""

    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_order_contacted", "order_id", "contacted_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    contacted_at: Mapped[timestamp]
    channel: Mapped[str] = mapped_column(String(8))
    reached: Mapped[bool] = mapped_column(Boolean)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str | None] = mapped_column(String(16))
    #: When the follow-up was due (completion + the configured delay), fixed at recording time,
    #: so follow-up compliance does not change when the order is later reopened and recompleted.
    due_at: Mapped[timestamp]
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
