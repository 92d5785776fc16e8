"""Media records (photos, signatures) and the resumable uploads that are still arriving."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, str64, timestamp, utcnow

KINDS = ("photo", "signature")
BigSize = BigInteger().with_variant(Integer, "sqlite")

__all__ = ["Media", "Upload"]


class Media(Base):
    """A verified file on an order: the id is the client's, the bytes content-addressed."""

    __tablename__ = "media"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str64] = mapped_column(index=True)
    size: Mapped[int] = mapped_column(BigSize)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    #: When the client says the picture was taken, and where (as the client sent it).
    taken_at: Mapped[timestamp]
    location: Mapped[dict[str, Any] | None]
    #: From the file's EXIF: the camera's local time as written (an offset only when EXIF has one).
    exif_taken_at: Mapped[str | None] = mapped_column(String(40))
    exif_gps: Mapped[dict[str, Any] | None]
    thumbnail_key: Mapped[str] = mapped_column(String(200))
    thumbnail_content_type: Mapped[str] = mapped_column(String(32))
    uploaded_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    uploaded_by_device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"))
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Upload(Base):
    """A tus upload in progress: how far it got, so any worker can take the next PATCH."""

    __tablename__ = "uploads"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    media_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(200), default="")
    taken_at: Mapped[timestamp]
    sha256: Mapped[str | None] = mapped_column(String(64))
    location: Mapped[dict[str, Any] | None]
    #: The raw Upload-Metadata header, echoed on HEAD as tus asks.
    metadata_header: Mapped[str] = mapped_column(String(2000), default="")
    upload_length: Mapped[int] = mapped_column(BigSize)
    upload_offset: Mapped[int] = mapped_column(BigSize, default=0)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    expires_at: Mapped[timestamp] = mapped_column(index=True)
    completed_at: Mapped[dt.datetime | None]
