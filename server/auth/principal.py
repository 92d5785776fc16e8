"""Who is calling: the token is decoded and checked against the database on every request.

Revocation and deactivation are read from the database each time (no per-process cache), so
a revoked device is refused on its very next request on every worker. Only the signature
check is remembered per worker (`tokens.VerifiedTokens`, kept on the app), and the queries
are built once, so a request pays for one indexed read.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request
from sqlalchemy import bindparam, select

from server.auth import tokens
from server.db import db
from server.domain.audit import Actor
from server.errors import Forbidden, Unauthorized
from server.models.people import Device, DeviceToken, User

STAFF_ROLES = ("admin", "dispatcher", "agent")
#: Where an app keeps its `tokens.VerifiedTokens`.
VERIFIED_TOKENS = "fieldsync_verified_tokens"

_users, _devices, _device_tokens = User.__table__, Device.__table__, DeviceToken.__table__
#: The user behind an access token (Core statements, built once: nothing here needs the ORM).
_USER = (select(_users.c.active, _users.c.role, _users.c.team_id)
         .where(_users.c.id == bindparam("user_id")))
#: The device behind a device token, its user, and the token's own row (None if never issued).
_DEVICE = (
    select(_devices.c.revoked_at, _devices.c.user_id, _users.c.active, _users.c.role,
           _users.c.team_id, _device_tokens.c.revoked_at, _device_tokens.c.device_id,
           _devices.c.clock_skew_ms)
    .select_from(_devices)
    .join(_users, _users.c.id == _devices.c.user_id)
    .outerjoin(_device_tokens, _device_tokens.c.jti == bindparam("jti"))
    .where(_devices.c.id == bindparam("device_id"))
)


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    role: str
    team_id: uuid.UUID | None
    device_id: uuid.UUID | None = None
    token_jti: str | None = None
    #: The device's clock skew as last measured, read with the token check so that a push
    #: needs no query of its own for it (a concurrent push of the same device may change it).
    clock_skew_ms: int | None = None
    #: What the view asked to read with the device check (`require_device(also_read=...)`).
    also_read: tuple[Any, ...] = ()

    @property
    def is_device(self) -> bool:
        return self.device_id is not None

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, device_id=self.device_id)


def key_ring() -> tokens.KeyRing:
    settings = current_app.config["SETTINGS"]
    return tokens.KeyRing(
        current=settings.secret_key,
        previous=tuple(settings.old_secret_keys),
        issuer=settings.token_issuer,
    )


def verified_tokens() -> tokens.VerifiedTokens:
    """The app's verified-token cache, made anew whenever its key ring changes."""
    keys = key_ring()
    verified = current_app.extensions.get(VERIFIED_TOKENS)
    if verified is None or verified.keys != keys:
        verified = current_app.extensions[VERIFIED_TOKENS] = tokens.VerifiedTokens(keys)
    return verified


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized("An Authorization: Bearer token is required.", code="token_missing")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
    return token.strip()


def authenticate_access() -> Principal:
    claims = verified_tokens().decode(_bearer_token(), expected_typ="access")
    with db.auth_session() as session:
        user = session.execute(_USER, {"user_id": claims["sub"]}).one_or_none()
    if user is None:
        raise Unauthorized("The token's user does not exist.")
    if not user.active:
        raise Unauthorized("The user is deactivated.", code="user_inactive")
    return Principal(user_id=claims["sub"], role=user.role, team_id=user.team_id,
                     token_jti=claims["jti"])


@functools.cache
def _device_statement(also_read: tuple[Any, ...]):
    """`_DEVICE` with the columns a view also reads (built once per set of columns)."""
    return _DEVICE.add_columns(*also_read) if also_read else _DEVICE


def authenticate_device(also_read: Sequence[Any] = ()) -> Principal:
    """The device's principal; `also_read` are columns (of `devices`, or scalar subqueries)
    read in the same statement, which saves the view a round trip."""
    claims = verified_tokens().decode(_bearer_token(), expected_typ="device")
    with db.auth_session() as session:
        row = session.execute(
            _device_statement(tuple(also_read)), {"jti": claims["jti"], "device_id": claims["did"]}
        ).one_or_none()
    if row is None or row.user_id != claims["sub"]:
        raise Unauthorized("The token's device does not exist.")
    (device_revoked_at, user_id, active, role, team_id, token_revoked_at, token_device,
     clock_skew_ms) = row[:8]
    if device_revoked_at is not None:
        raise Unauthorized("This device has been revoked.", code="device_revoked")
    if not active:
        raise Unauthorized("The device's user is deactivated.", code="user_inactive")
    if token_device != claims["did"] or token_revoked_at is not None:
        raise Unauthorized("This device token has been revoked.", code="token_revoked")
    return Principal(
        user_id=user_id, role=role, team_id=team_id, device_id=claims["did"],
        token_jti=claims["jti"], clock_skew_ms=clock_skew_ms, also_read=tuple(row[8:]),
    )


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        raise RuntimeError("no authenticated principal: the view lacks an auth decorator")
    return principal


def _authorize_staff(roles: tuple[str, ...]) -> Principal:
    """An access token whose user holds one of `roles`; 403 for any other role."""
    principal = authenticate_access()
    if principal.role not in roles:
        raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
    return principal


def _authenticated_by(authenticate: Callable[[], Principal]) -> Callable:
    """View decorator: `authenticate()` gives the request's principal (or raises 401/403)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            g.principal = authenticate()
            return view(*args, **kwargs)

        return wrapper

    return decorator


def require_roles(*roles: str) -> Callable:
    """Staff endpoint: an access token whose user has one of `roles` (403 otherwise)."""
    return _authenticated_by(lambda: _authorize_staff(roles))


def require_device(view: Callable | None = None, *, also_read: Sequence[Any] = ()) -> Callable:
    """Sync endpoint: a valid device token of an active crew member's unrevoked device.

    `also_read`: columns the view needs, read with the device check (`Principal.also_read`).
    """
    decorator = _authenticated_by(lambda: authenticate_device(also_read))
    return decorator if view is None else decorator(view)


def require_staff_or_device(*roles: str) -> Callable:
    """Endpoints both staff (with one of `roles`) and crew devices may call, such as media."""

    def authenticate() -> Principal:
        token = _bearer_token()
        typ = verified_tokens().typ_of(token)
        if typ is None:
            try:
                typ = tokens.jwt.decode(token, options={"verify_signature": False}).get("typ")
            except tokens.jwt.InvalidTokenError as error:
                raise Unauthorized("The token is malformed.") from error
        return authenticate_device() if typ == "device" else _authorize_staff(roles)

    return _authenticated_by(authenticate)
