"""Media endpoints (PROTOCOL.md section 5): direct upload, metadata, content and thumbnail.

Uploads are read incrementally (media.multipart), verified and stored by media.uploads; this
module only authorises, translates HTTP and serves bytes. Content is content-addressed, so
its ETag is the sha256 and it may be cached for a year.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from flask import Response, current_app, request, send_file
from flask.views import MethodView
from marshmallow import ValidationError

from media import store_of
from media.multipart import read_media_form
from media.storage import KeyNotFound, StoreError, content_key
from media.uploads import MediaClaim, Uploader, accept
from schemas.media import MediaSchema, MediaUploadFieldsSchema
from server.api import Blueprint
from server.auth.principal import Principal, current_principal, require_staff_or_device
from server.db import db
from server.domain.scope import get_order_for_field_work, get_visible_order
from server.errors import NotFound, PayloadTooLarge, ServiceUnavailable, ValidationFailed
from server.models.media import Media

blp = Blueprint("media", __name__, description="Photos and signatures attached to orders.")

UPLOADERS = ("admin", "dispatcher")
READERS = ("admin", "dispatcher", "agent")
IMMUTABLE = "private, max-age=31536000, immutable"
STREAM_CHUNK = 256 * 1024
T = TypeVar("T")

UPLOAD_BODY_DOC = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object",
        "required": ["id", "kind", "sha256", "taken_at", "file"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "Client-made media id."},
            "kind": {"type": "string", "enum": ["photo", "signature"]},
            "sha256": {"type": "string", "description": "Hex sha256 of the file."},
            "taken_at": {"type": "string", "format": "date-time"},
            "location": {"type": "string", "description": 'JSON: {"lat", "lon", "accuracy_m"}'},
            "file": {"type": "string", "format": "binary",
                     "description": "JPEG, PNG or WebP (signatures PNG or WebP), at most 25 MiB."},
        },
    }}},
}


def uploader_of(principal: Principal) -> Uploader:
    return Uploader(actor=principal.actor, source="device" if principal.is_device else "staff",
                    team_id=principal.team_id)


def outside_transaction(receive: Callable[[], T]) -> T:
    """Run `receive` (reading a request body) with no database transaction open.

    A body can take minutes on a field network. The request's transaction (on SQLite a
    BEGIN IMMEDIATE write lock, shared by every worker) is ended first: nothing has been
    written yet, only the token and scope were read. A new write transaction starts after.
    """
    session = db.session
    session.rollback()
    result = receive()
    if db.is_sqlite:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    return result


def _drain_request_body() -> None:
    """Read what is left of a refused body (bounded by MAX_CONTENT_LENGTH) so the client
    sees our 413 instead of a reset connection."""
    stream = request.stream
    while stream.read(STREAM_CHUNK):
        pass


@blp.route("/orders/<uuid:order_id>/media")
class OrderMedia(MethodView):
    @require_staff_or_device(*UPLOADERS)
    @blp.doc(requestBody=UPLOAD_BODY_DOC)
    @blp.response(201, MediaSchema, description="Stored: the new media record.")
    @blp.alt_response(200, schema=MediaSchema,
                      description="A retry (same id and file): the existing record.")
    def post(self, order_id: uuid.UUID):
        """Upload a photo or signature (multipart; idempotent on the media id)"""
        principal = current_principal()
        session = db.session
        get_order_for_field_work(session, principal, order_id)
        if request.mimetype != "multipart/form-data" or "boundary" not in request.mimetype_params:
            raise ValidationFailed("Send multipart/form-data.",
                                   errors={"file": ["Send multipart/form-data with a file part."]})
        settings = current_app.config["SETTINGS"]
        store = store_of(current_app)
        boundary = request.mimetype_params["boundary"].encode("latin-1")
        try:
            form = outside_transaction(lambda: read_media_form(
                store, request.stream.read, boundary, settings.max_media_bytes))
        except PayloadTooLarge:
            _drain_request_body()
            raise
        if form.file is None:
            raise ValidationFailed(errors={"file": ["Missing data for required field."]})
        try:
            fields = MediaUploadFieldsSchema().load(form.fields)
        except ValidationError as error:
            form.file.discard()
            raise ValidationFailed("The upload has invalid fields.",
                                   errors=error.messages_dict) from error
        claim = MediaClaim(
            order_id=order_id, media_id=fields["id"], kind=fields["kind"],
            sha256=fields["sha256"].lower(), taken_at=fields["taken_at"],
            location=fields["location"], claimed_type=form.content_type, filename=form.filename,
        )
        media, created = accept(session, store, uploader_of(principal), claim, form.file)
        if created:
            return media, 201, {"Location": f"/api/v1/media/{media.id}"}
        return media, 200


def visible_media(media_id: uuid.UUID) -> Media:
    """The media if the caller may see its order; 404 otherwise (same rule as the order)."""
    session = db.session
    media = session.get(Media, media_id)
    if media is None:
        raise NotFound("No such media.")
    get_visible_order(session, current_principal(), media.order_id)
    return media


@blp.route("/media/<uuid:media_id>")
class MediaItem(MethodView):
    @require_staff_or_device(*READERS)
    @blp.response(200, MediaSchema)
    def get(self, media_id: uuid.UUID):
        """Read a media record (kind, hash, size, dimensions, EXIF facts, URLs)"""
        return visible_media(media_id)


def serve_stored(key: str, content_type: str, etag: str, size: int | None) -> Response:
    """Stream a stored object with a strong ETag and immutable caching; 304 when unchanged."""
    if_none_match = request.if_none_match
    if if_none_match.star_tag or if_none_match.contains_weak(etag):
        response = current_app.response_class(status=304)
    else:
        store = store_of(current_app)
        path = store.local_path(key)
        try:
            if path is not None:
                if not path.is_file():
                    raise KeyNotFound(key)
                response = send_file(path, mimetype=content_type, conditional=False,
                                     etag=False, max_age=None, last_modified=None)
            else:
                body = store.open(key)
                response = current_app.response_class(
                    iter(lambda: body.read(STREAM_CHUNK), b""), mimetype=content_type)
                response.call_on_close(body.close)
                if size is not None:
                    response.content_length = size
        except KeyNotFound as error:
            raise NotFound("The file is missing from the media store.") from error
        except StoreError as error:
            raise ServiceUnavailable("The media store is not reachable; retry.",
                                     headers={"Retry-After": "5"}) from error
    response.set_etag(etag)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


BINARY_DOC = {"responses": {"200": {"description": "The bytes.",
                                    "content": {"image/*": {"schema": {"type": "string",
                                                                       "format": "binary"}}}},
                            "304": {"description": "Not modified (If-None-Match)."}}}


@blp.route("/media/<uuid:media_id>/content")
@require_staff_or_device(*READERS)
@blp.doc(**BINARY_DOC)
def media_content(media_id: uuid.UUID):
    """Download the original file (ETag = its sha256, immutable)"""
    media = visible_media(media_id)
    return serve_stored(content_key(media.sha256), media.content_type, media.sha256, media.size)


@blp.route("/media/<uuid:media_id>/thumbnail")
@require_staff_or_device(*READERS)
@blp.doc(**BINARY_DOC)
def media_thumbnail(media_id: uuid.UUID):
    """Download the thumbnail (longest side 320 px, EXIF orientation applied)"""
    media = visible_media(media_id)
    return serve_stored(media.thumbnail_key, media.thumbnail_content_type,
                        f"{media.sha256}-thumbnail", None)

