"""Media schemas: the multipart upload fields and the media record as served and pulled."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from marshmallow import ValidationError, fields, validate

from schemas.base import LocationSchema, Schema, UtcDateTime
from server.json_provider import to_rfc3339

SHA256_HEX = validate.Regexp(r"^[0-9a-fA-F]{64}$", error="Must be 64 hexadecimal digits.")


class JsonLocation(fields.Nested):
    """A location sent as a JSON string inside a multipart field (or tus metadata value)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(LocationSchema, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                value = json.loads(value)
            except ValueError as error:
                raise ValidationError("Not valid JSON.") from error
        return super()._deserialize(value, attr, data, **kwargs)


class MediaUploadFieldsSchema(Schema):
    """The text fields of `POST /orders/{id}/media`; the file goes in the `file` part."""

    id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["photo", "signature"]))
    sha256 = fields.String(required=True, validate=SHA256_HEX)
    taken_at = UtcDateTime(required=True)
    location = JsonLocation(load_default=None, allow_none=True)


class UploadMetadataSchema(Schema):
    """tus Upload-Metadata (values already base64-decoded); sha256 and location optional."""

    order_id = fields.UUID(required=True)
    media_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["photo", "signature"]))
    filename = fields.String(load_default="", validate=validate.Length(max=200))
    taken_at = UtcDateTime(required=True)
    sha256 = fields.String(load_default=None, validate=SHA256_HEX)
    location = JsonLocation(load_default=None, allow_none=True)
    filetype = fields.String(load_default=None, validate=validate.Length(max=100))


class UploaderSchema(Schema):
    user_id = fields.UUID(allow_none=True)
    device_id = fields.UUID(allow_none=True)


class MediaSchema(Schema):
    """A media record as `GET /media/{id}` serves it and the pull carries it (`data`)."""

    id = fields.UUID()
    order_id = fields.UUID()
    kind = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    taken_at = UtcDateTime()
    location = fields.Dict(allow_none=True)
    exif_taken_at = fields.Method(
        "_exif_taken_at", allow_none=True,
        metadata={"description": "EXIF capture time in UTC, when the photo's EXIF records the "
                                 "camera's offset from UTC (else null: see exif_camera_time)."},
    )
    exif_camera_time = fields.Method(
        "_exif_camera_time", allow_none=True,
        metadata={"description": "EXIF capture time as the camera's clock showed it "
                                 "(YYYY-MM-DDTHH:MM:SS, no offset): a wall-clock reading, not "
                                 "an instant, since EXIF often does not say the time zone."},
    )
    exif_gps = fields.Dict(allow_none=True, metadata={"description": "{lat, lon[, alt_m]}"})
    thumbnail_content_type = fields.String()
    uploaded_by = fields.Method("_uploaded_by")
    created_at = UtcDateTime()
    version = fields.Integer()
    content_url = fields.Method("_content_url")
    thumbnail_url = fields.Method("_thumbnail_url")

    @staticmethod
    def _uploaded_by(media) -> dict[str, str | None]:
        return {
            "user_id": str(media.uploaded_by_user_id) if media.uploaded_by_user_id else None,
            "device_id": str(media.uploaded_by_device_id) if media.uploaded_by_device_id else None,
        }

    @staticmethod
    def _exif_taken_at(media) -> str | None:
        """The stored EXIF time (`media.images.exif_capture_time`) as an instant, when its
        offset is known: PROTOCOL.md section 1 serves every time in UTC."""
        if not media.exif_taken_at:
            return None
        moment = dt.datetime.fromisoformat(media.exif_taken_at)
        return to_rfc3339(moment) if moment.tzinfo is not None else None

    @staticmethod
    def _exif_camera_time(media) -> str | None:
        return media.exif_taken_at[:19] if media.exif_taken_at else None

    @staticmethod
    def _content_url(media) -> str:
        return f"/api/v1/media/{media.id}/content"

    @staticmethod
    def _thumbnail_url(media) -> str:
        return f"/api/v1/media/{media.id}/thumbnail"


media_schema = MediaSchema()
