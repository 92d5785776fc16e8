"""Opaque pull cursors: base64url JSON signed with an HMAC of the server's secret.

A cursor says where a device stands: its team, the feed position it has read up to, the time
of that pull (for scope aging) and, after a complete pull, the digest and the next moment an
order of its scope ages out, so an empty delta pull needs neither. During a full snapshot it
also holds the position the snapshot pinned and the sort key of the last order sent. The
signature makes every field trustworthy; anything that does not verify is `invalid_cursor`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson

VERSION = 1
MAC_BYTES = 16


class CursorError(ValueError):
    """The cursor is not one this server issued (malformed, tampered or from unknown keys)."""


@dataclass(frozen=True)
class Cursor:
    """`pos`: feed position read up to (the pinned one during a snapshot); `at_ms`: time of the
    pull that issued it; `after`: snapshot sort key of the last order sent (None once in delta)."""

    team_id: str
    pos: int
    at_ms: int
    digest: str | None = None
    next_expiry_ms: int | None = None
    after: tuple[int, int, str] | None = None
    sent: int = 0

    @property
    def in_snapshot(self) -> bool:
        return self.after is not None


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.digest(key, payload, "sha256")[:MAC_BYTES]


@functools.cache  # every pull derives it twice; the secrets are few and fixed
def signing_key(secret: str) -> bytes:
    """A key for cursors only, derived from the token secret (never the secret itself)."""
    return hashlib.sha256(b"fieldsync-cursor\x00" + secret.encode("utf-8")).digest()


def encode(cursor: Cursor, key: bytes) -> str:
    document: dict[str, Any] = {"v": VERSION, "tm": cursor.team_id, "p": cursor.pos,
                                "t": cursor.at_ms}
    if cursor.digest is not None:
        document["d"] = cursor.digest
    if cursor.next_expiry_ms is not None:
        document["x"] = cursor.next_expiry_ms
    if cursor.after is not None:
        document["k"] = list(cursor.after)
        document["n"] = cursor.sent
    payload = orjson.dumps(document)
    return f"{_b64encode(payload)}.{_b64encode(_mac(key, payload))}"


def _int(document: dict[str, Any], name: str, *, optional: bool = False) -> int | None:
    value = document.get(name)
    if value is None and optional:
        return None
    if type(value) is not int or value < 0:
        raise CursorError(f"cursor field {name} is not a non-negative integer")
    return value


def decode(text: str, keys: list[bytes]) -> Cursor:
    """Verify and read a cursor; CursorError for anything else (`keys`: current key first)."""
    if not isinstance(text, str) or len(text) > 1024 or text.count(".") != 1:
        raise CursorError("malformed cursor")
    body, mac = text.split(".")
    try:
        payload, given_mac = _b64decode(body), _b64decode(mac)
    except (ValueError, TypeError) as error:
        raise CursorError("malformed cursor") from error
    if not any(hmac.compare_digest(given_mac, _mac(key, payload)) for key in keys):
        raise CursorError("cursor signature does not verify")
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise CursorError("malformed cursor") from error
    if not isinstance(document, dict) or document.get("v") != VERSION:
        raise CursorError("unknown cursor version")
    team_id, digest, after = document.get("tm"), document.get("d"), document.get("k")
    if not isinstance(team_id, str) or not (digest is None or isinstance(digest, str)):
        raise CursorError("malformed cursor")
    key_tuple = None
    if after is not None:
        if not (isinstance(after, list) and len(after) == 3 and type(after[0]) is int
                and type(after[1]) is int and isinstance(after[2], str)):
            raise CursorError("malformed snapshot key")
        key_tuple = (after[0], after[1], after[2])
    return Cursor(
        team_id=team_id,
        pos=_int(document, "p") or 0,
        at_ms=_int(document, "t") or 0,
        digest=digest,
        next_expiry_ms=_int(document, "x", optional=True),
        after=key_tuple,
        sent=(_int(document, "n") or 0) if key_tuple else 0,
    )
