"""Keyset pagination for lists: an opaque cursor over (created_at, id), oldest first.

A cursor names the last row served, so a row inserted meanwhile never shifts a page (no offset
drift) and a client walking the pages sees each row once. The cursor is base64url text that
clients must treat as opaque; anything that does not decode is 400 `invalid_cursor`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from server.errors import InvalidCursor


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor}


def encode_cursor(created_at: dt.datetime, row_id: uuid.UUID) -> str:
    raw = f"{created_at.astimezone(dt.UTC).isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, row_id = raw.partition("|")
        created_at = dt.datetime.fromisoformat(stamp)
        if created_at.tzinfo is None:
            raise ValueError("naive cursor time")
        return created_at, uuid.UUID(row_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor("The cursor is not one this server issued.") from error


def keyset_page(
    session: Session, statement: Select, model: Any, *, limit: int, cursor: str | None
) -> Page:
    """Run `statement` (a select of `model`) one page at a time, ordered by (created_at, id)."""
    if cursor:
        created_at, row_id = decode_cursor(cursor)
        statement = statement.where(
            or_(
                model.created_at > created_at,
                and_(model.created_at == created_at, model.id > row_id),
            )
        )
    statement = statement.order_by(model.created_at, model.id).limit(limit + 1)
    rows = list(session.scalars(statement))
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], encode_cursor(last.created_at, last.id))
