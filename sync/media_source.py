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

from sqlalchemy import select
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
    def for_orders(self, session: Session, order_ids: list[uuid.UUID]) -> list[MediaEntity]:
        """Every media entity of these orders."""

    def by_ids(self, session: Session, media_ids: list[uuid.UUID]) -> list[MediaEntity]:
        """These media entities (absent ones are left out)."""


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

    def _select(self, session: Session, condition: Any) -> list[MediaEntity]:
        rows = session.scalars(select(Media).where(condition).order_by(Media.created_at, Media.id))
        return [self.render(media) for media in rows]

    def for_orders(self, session: Session, order_ids: list[uuid.UUID]) -> list[MediaEntity]:
        return self._select(session, Media.order_id.in_(order_ids)) if order_ids else []

    def by_ids(self, session: Session, media_ids: list[uuid.UUID]) -> list[MediaEntity]:
        return self._select(session, Media.id.in_(media_ids)) if media_ids else []


_source: list[MediaSource] = [TableMediaSource()]


def register_media_source(source: MediaSource) -> None:
    """Let the media module render the media entities tablets receive."""
    _source[0] = source


def media_source() -> MediaSource:
    return _source[0]


def as_uuids(values: Iterable[str | uuid.UUID]) -> list[uuid.UUID]:
    """Feed entity ids are text; the media table keys by UUID."""
    return [value if isinstance(value, uuid.UUID) else uuid.UUID(value) for value in values]
