"""Teams, users, tablets and their credentials."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, str64, str200, timestamp, utcnow, uuid_pk

ROLES = ("admin", "dispatcher", "agent", "crew")


class Team(Base):
    """A repair crew: a base location, skills, and its crew members."""

    __tablename__ = "teams"

    id: Mapped[uuid_pk]
    name: Mapped[str200] = mapped_column(unique=True)
    base_lat: Mapped[float] = mapped_column(Float)
    base_lon: Mapped[float] = mapped_column(Float)
    skills: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[timestamp] = mapped_column(default=utcnow, onupdate=utcnow)

    members: Mapped[list[User]] = relationship(back_populates="team")


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid_pk]
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str200] = mapped_column(default="")
    phone: Mapped[str | None] = mapped_column(String(40))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    deactivated_at: Mapped[dt.datetime | None]

    team: Mapped[Team | None] = relationship(back_populates="members")


class Device(Base):
    """A tablet registered to one crew member; what it last reported is kept for dispatch."""

    __tablename__ = "devices"

    id: Mapped[uuid_pk]
    name: Mapped[str200]
    platform: Mapped[str64]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    enrolled_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    device_info: Mapped[dict[str, Any] | None]
    app_version: Mapped[str | None] = mapped_column(String(64))
    last_sync_at: Mapped[dt.datetime | None]
    last_seen_at: Mapped[dt.datetime | None]
    last_location: Mapped[dict[str, Any] | None]
    last_location_at: Mapped[dt.datetime | None]
    clock_skew_ms: Mapped[int | None] = mapped_column(Integer)
    # Pull rate limiting, kept in the database so every worker sees the same budget.
    pull_allowance: Mapped[float] = mapped_column(Float, default=0.0)
    pull_checked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class EnrollmentCode(Base):
    """A one-time, short-lived code a tablet exchanges for its device token. Stored hashed."""

    __tablename__ = "enrollment_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), index=True)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    expires_at: Mapped[timestamp]
    used_at: Mapped[dt.datetime | None]


class DeviceToken(Base):
    """Every device token issued, by `jti`, so one can be revoked before it expires."""

    __tablename__ = "device_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), index=True)
    issued_at: Mapped[timestamp] = mapped_column(default=utcnow)
    expires_at: Mapped[timestamp]
    revoked_at: Mapped[dt.datetime | None]
