"""Issuing and decoding JWTs with an explicit algorithm allow-list and rotating keys (`kid`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from server.errors import Unauthorized

ALGORITHM = "HS256"
ALLOWED_ALGORITHMS = [ALGORITHM]


def key_id(secret: str) -> str:
    """The `kid` of a signing key: the first 16 hex digits of its sha256."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class KeyRing:
    """The current signing key and the older keys still accepted for verification."""

    current: str
    previous: tuple[str, ...] = ()
    issuer: str = "fieldsync"

    def key_for(self, kid: str | None) -> str | None:
        for secret in (self.current, *self.previous):
            if key_id(secret) == kid:
                return secret
        return None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def issue(
    keys: KeyRing, *, typ: str, subject: uuid.UUID, ttl_seconds: int, extra: dict | None = None
) -> IssuedToken:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    expires = now + dt.timedelta(seconds=ttl_seconds)
    jti = secrets.token_hex(16)
    claims = {
        "iss": keys.issuer,
        "sub": str(subject),
        "jti": jti,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "typ": typ,
        **(extra or {}),
    }
    token = jwt.encode(
        claims, keys.current, algorithm=ALGORITHM, headers={"kid": key_id(keys.current)}
    )
    return IssuedToken(token=token, jti=jti, issued_at=now, expires_at=expires)


def decode(keys: KeyRing, token: str, *, expected_typ: str) -> dict[str, Any]:
    """Verify signature, algorithm, issuer, expiry and `typ`; raise 401 with a precise code."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as error:
        raise Unauthorized("The token is malformed.") from error
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise Unauthorized("The token's signing algorithm is not accepted.")
    secret = keys.key_for(header.get("kid"))
    if secret is None:
        raise Unauthorized("The token was signed with an unknown key.")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=ALLOWED_ALGORITHMS,
            issuer=keys.issuer,
            options={"require": ["exp", "iat", "sub", "jti", "typ", "iss"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthorized("The token has expired.", code="token_expired") from error
    except jwt.InvalidTokenError as error:
        raise Unauthorized("The token is invalid.") from error
    if claims.get("typ") != expected_typ:
        raise Unauthorized(f"A {expected_typ} token is required for this endpoint.")
    try:
        claims["sub"] = uuid.UUID(claims["sub"])
        if expected_typ == "device":
            claims["did"] = uuid.UUID(claims["did"])
    except (KeyError, ValueError, TypeError) as error:
        raise Unauthorized("The token's subject is invalid.") from error
    return claims
