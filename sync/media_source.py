"""Where the pull gets media entities from: a source the media module may register.

The pull sends media as `{"type": "media", "id", "version", "order_id", "data"}`. The default
source renders them from the `media` table; media/ can `register_media_source` its own
renderer (for signed or S3 URLs, say) without the sync engine importing media code.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from server.json_provider import to_rfc3339
from server.models.media import Media


@dataclass(frozen=True)
class MediaEntity:
    id: str
    version: int
    order_id: str
    data: dict[str, Any]


class MediaSource(Protocol):
    def entities(self, session: Session, *, order_ids: list[uuid.UUID],
                 media_ids: list[uuid.UUID]) -> list[MediaEntity]:
        """Every media entity of these orders and these media entities (absent ones are left
        out), oldest first; one query."""


class TableMediaSource:
    """Media as the `media` table holds them, with the API URLs of their content."""

    @staticmethod
    def render(media: Media) -> MediaEntity:
        return MediaEntity(
            id=str(media.id),
            version=media.version,
            order_id=str(media.order_id),
            data={
                "kind": media.kind,
                "sha256": media.sha256,
                "content_type": media.content_type,
                "size": media.size,
                "taken_at": to_rfc3339(media.taken_at),
                "location": media.location,
                "content_url": f"/api/v1/media/{media.id}/content",
                "thumbnail_url": f"/api/v1/media/{media.id}/thumbnail",
            },
        )

    def entities(self, session: Session, *, order_ids: list[uuid.UUID],
                 media_ids: list[uuid.UUID]) -> list[MediaEntity]:
        if not order_ids and not media_ids:
            return []
        rows = session.scalars(
            select(Media).where(or_(Media.order_id.in_(order_ids), Media.id.in_(media_ids)))
            .order_by(Media.created_at, Media.id)
        )
        return [self.render(media) for media in rows]


_source: list[MediaSource] = [TableMediaSource()]


def register_media_source(source: MediaSource) -> None:
    """Let the media module render the media entities tablets receive."""
    _source[0] = source


def media_source() -> MediaSource:
    return _source[0]


def as_uuids(values: Iterable[str | uuid.UUID]) -> list[uuid.UUID]:
    """Feed entity ids are text; the media table keys by UUID."""
    return [value if isinstance(value, uuid.UUID) else uuid.UUID(value) for value in values]
