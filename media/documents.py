"""Rendering media records for the sync pull: `data` of a `type: media` change.

The sync engine calls `pull_data(session, ids)` with the media ids a page of changes names;
the result is the same document `GET /api/v1/media/{id}` serves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.media import media_schema
from server.models.media import Media


def media_document(media: Media) -> dict[str, Any]:
    """One record as served: kind, sha256, content_type, size, width, height, taken_at,
    location, exif facts, content_url, thumbnail_url, version..."""
    return media_schema.dump(media)


def pull_data(
    session: Session, ids: Iterable[str | uuid.UUID | Media]
) -> dict[str, dict[str, Any]]:
    """`{media id (str): document}` for the given ids or rows; absent ids are left out."""
    rows: list[Media] = []
    wanted: list[uuid.UUID] = []
    for item in ids:
        if isinstance(item, Media):
            rows.append(item)
        else:
            wanted.append(item if isinstance(item, uuid.UUID) else uuid.UUID(str(item)))
    if wanted:
        rows.extend(session.scalars(select(Media).where(Media.id.in_(wanted))))
    return {str(row.id): media_document(row) for row in rows}
