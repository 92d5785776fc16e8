"""Issuing and decoding JWTs with an explicit algorithm allow-list and rotating keys (`kid`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt

from server.errors import Unauthorized

ALGORITHM = "HS256"
ALLOWED_ALGORITHMS = [ALGORITHM]
#: Verified tokens a worker remembers (see `VerifiedTokens`); a tablet fleet's worth.
VERIFIED_TOKENS_KEPT = 4096


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
    return _typed(_verify(keys, token), expected_typ)


def _verify(keys: KeyRing, token: str) -> dict[str, Any]:
    """The claims of a token whose signature, algorithm, issuer and validity window check out."""
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
        return jwt.decode(
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


def _check_window(claims: dict[str, Any], now: float) -> None:
    """PyJWT's time checks (`iat`, `nbf`, `exp`, no leeway), for claims verified earlier."""
    if int(claims["iat"]) > now or ("nbf" in claims and int(claims["nbf"]) > now):
        raise Unauthorized("The token is invalid.")
    if int(claims["exp"]) <= now:
        raise Unauthorized("The token has expired.", code="token_expired")


def _typed(claims: dict[str, Any], expected_typ: str) -> dict[str, Any]:
    """A copy of verified claims for `expected_typ`, with `sub` (and a device's `did`) as UUIDs."""
    if claims.get("typ") != expected_typ:
        raise Unauthorized(f"A {expected_typ} token is required for this endpoint.")
    typed = dict(claims)
    try:
        typed["sub"] = uuid.UUID(claims["sub"])
        if expected_typ == "device":
            typed["did"] = uuid.UUID(claims["did"])
    except (KeyError, ValueError, TypeError) as error:
        raise Unauthorized("The token's subject is invalid.") from error
    return typed


class VerifiedTokens:
    """`decode` with a bounded LRU of verified claims, keyed by the raw token, for one key ring.

    A signature check gives the same answer for the same token and keys every time, so a
    tablet's token is verified once per worker; the time window (`iat`, `nbf`, `exp`) is checked
    on every use. Revocation is not cached here: the caller reads it from the database on every
    request.
    """

    def __init__(self, keys: KeyRing, capacity: int = VERIFIED_TOKENS_KEPT) -> None:
        self.keys = keys
        self._capacity = capacity
        self._claims: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def decode(self, token: str, *, expected_typ: str) -> dict[str, Any]:
        """Exactly `decode(keys, token, expected_typ=...)`."""
        with self._lock:
            claims = self._claims.get(token)
            if claims is not None:
                self._claims.move_to_end(token)
        if claims is None:
            claims = _verify(self.keys, token)
            with self._lock:
                self._claims[token] = claims
                if len(self._claims) > self._capacity:
                    self._claims.popitem(last=False)
        else:
            _check_window(claims, time.time())
        return _typed(claims, expected_typ)

    def typ_of(self, token: str) -> str | None:
        """The `typ` of a token verified earlier; None for one not (or no longer) remembered."""
        with self._lock:
            claims = self._claims.get(token)
        return None if claims is None else claims.get("typ")
