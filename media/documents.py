"""Rendering media records for the sync pull: `data` of a `type: media` change.

`PulledMedia` is registered with the sync engine (sync.media_source) by `media.init_app`, so
a tablet's pull carries the same document `GET /api/v1/media/{id}` serves: kind, sha256,
content_type, size, width, height, taken_at, location, EXIF facts, content and thumbnail URLs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.media import media_schema
from server.models.media import Media
from sync.media_source import MediaEntity, TableMediaSource


def media_document(media: Media) -> dict[str, Any]:
    """One record as served by the API and carried by the pull."""
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


class PulledMedia(TableMediaSource):
    """The sync engine's media source, rendering the same document `GET /media/{id}` serves."""

    @staticmethod
    def render(media: Media) -> MediaEntity:
        return MediaEntity(id=str(media.id), version=media.version,
                           order_id=str(media.order_id), data=media_document(media))
