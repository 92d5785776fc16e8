"""Tablets: registration, one-time enrollment codes, device tokens, revocation and lists."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from server.auth import tokens
from server.config import Settings
from server.domain.pagination import Page, keyset_page
from server.errors import Conflict, NotFound, ValidationFailed
from server.models.base import utcnow
from server.models.people import Device, DeviceToken, EnrollmentCode, User

#: A sync refreshes `devices.last_sync_at` only when it is older than this (no write per sync).
LAST_SYNC_REFRESH = dt.timedelta(seconds=30)
#: Crockford base32: no I, L, O or U, so a code read aloud or typed is hard to get wrong.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
#: What a person may type for a Crockford digit that is not in the alphabet.
_CODE_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})


def signing_keys(settings: Settings) -> tokens.KeyRing:
    return tokens.KeyRing(
        current=settings.secret_key,
        previous=tuple(settings.old_secret_keys),
        issuer=settings.token_issuer,
    )


def last_sync_is_stale(last_sync_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a sync at `now` should record itself on the device (pulls and pushes alike)."""
    return last_sync_at is None or now - last_sync_at >= LAST_SYNC_REFRESH


def get_device(session: Session, device_id: uuid.UUID) -> Device:
    device = session.get(Device, device_id, options=[joinedload(Device.user)])
    if device is None:
        raise NotFound("No such device.")
    return device


def _active_crew_member(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise ValidationFailed("Unknown user.", errors={"user_id": ["No such user."]})
    if user.role != "crew":
        raise ValidationFailed("Not a crew member.",
                               errors={"user_id": ["Devices belong to crew members only."]})
    if not user.active:
        raise ValidationFailed("Inactive user.", errors={"user_id": ["The user is deactivated."]})
    return user


def normalise_code(code: str) -> str:
    """Case, dashes, spaces and look-alike letters do not matter when a person types the code."""
    return "".join(code.split()).replace("-", "").upper().translate(_CODE_LOOKALIKES)


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def register_device(
    session: Session, settings: Settings, fields: dict[str, Any]
) -> tuple[Device, str, dt.datetime]:
    """Register a tablet for an active crew member; returns it with its one-time code."""
    user = _active_crew_member(session, fields["user_id"])
    device = Device(name=fields["name"], platform=fields["platform"], user=user)
    session.add(device)
    session.flush()
    code, expires_at = new_enrollment_code(session, settings, device)
    return device, code, expires_at


def new_enrollment_code(
    session: Session, settings: Settings, device: Device
) -> tuple[str, dt.datetime]:
    """A fresh code for `device`; only its sha256 is stored."""
    code = _new_code()
    expires_at = utcnow() + dt.timedelta(seconds=settings.enrollment_code_ttl)
    session.add(EnrollmentCode(code_hash=_code_hash(code), device_id=device.id,
                               expires_at=expires_at))
    session.flush()
    return code, expires_at


def issue_device_token(session: Session, settings: Settings, device: Device) -> tokens.IssuedToken:
    """Sign a device token and record its `jti` so it can be revoked before it expires."""
    issued = tokens.issue(
        signing_keys(settings), typ="device", subject=device.user_id,
        ttl_seconds=settings.device_token_ttl, extra={"did": str(device.id)},
    )
    session.add(DeviceToken(jti=issued.jti, device_id=device.id,
                            issued_at=issued.issued_at, expires_at=issued.expires_at))
    session.flush()
    return issued


def issue_token_for(
    session: Session, settings: Settings, device_id: uuid.UUID
) -> tokens.IssuedToken:
    """An admin issues a token directly: the device must be live and its user active."""
    device = get_device(session, device_id)
    if device.revoked_at is not None:
        raise Conflict("The device is revoked; register a new one.")
    if not device.user.active:
        raise Conflict("The device's user is deactivated.")
    if device.enrolled_at is None:
        device.enrolled_at = utcnow()
    return issue_device_token(session, settings, device)


def enroll(
    session: Session, settings: Settings, code: str, device_info: dict[str, Any]
) -> tuple[Device, tokens.IssuedToken]:
    """Exchange a one-time code for a device token.

    The code is claimed with one conditional UPDATE (`used_at IS NULL`), so of two tablets
    racing with the same code exactly one wins, on SQLite and PostgreSQL alike.
    """
    now = utcnow()
    claimed = session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.code_hash == _code_hash(code),
               EnrollmentCode.used_at.is_(None),
               EnrollmentCode.expires_at > now)
        .values(used_at=now)
        .returning(EnrollmentCode.device_id)
    ).scalar_one_or_none()
    device = session.get(Device, claimed, options=[joinedload(Device.user)]) if claimed else None
    if device is None or device.revoked_at is not None or not device.user.active:
        raise ValidationFailed(
            "The enrollment code is not valid.",
            errors={"enrollment_code": ["Unknown, expired or already used code."]},
        )
    device.enrolled_at = now
    device.device_info = device_info or None
    device.app_version = device_info.get("app_version") or device.app_version
    return device, issue_device_token(session, settings, device)


def revoke_device(session: Session, device_id: uuid.UUID) -> Device:
    """Revoke the device and every token it holds (idempotent); its next request is 401."""
    device = get_device(session, device_id)
    now = utcnow()
    if device.revoked_at is None:
        device.revoked_at = now
    session.execute(
        update(DeviceToken)
        .where(DeviceToken.device_id == device.id, DeviceToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.flush()
    return device


def list_devices(session: Session, *, limit: int, cursor: str | None,
                 user_id: uuid.UUID | None = None, team_id: uuid.UUID | None = None,
                 revoked: bool | None = None) -> Page:
    query = select(Device).options(joinedload(Device.user))
    if user_id is not None:
        query = query.where(Device.user_id == user_id)
    if team_id is not None:
        query = query.where(Device.user_id.in_(select(User.id).where(User.team_id == team_id)))
    if revoked is not None:
        is_revoked = Device.revoked_at.is_not(None)
        query = query.where(is_revoked if revoked else ~is_revoked)
    return keyset_page(session, query, Device, limit=limit, cursor=cursor)
