"""Resumable uploads: tus 1.0 at /api/v1/uploads/ (core, creation, checksum, termination,
expiration), authenticated with the device token (or a dispatcher's access token).

The protocol logic lives in media.tus; here are the HTTP headers tus asks for. Every
response, errors included, carries `Tus-Resumable`; errors are problem+json.
"""

from __future__ import annotations

import uuid

from flask import Response, current_app, request
from flask.views import MethodView
from werkzeug.http import http_date

from media import store_of, tus
from server.api import Blueprint
from server.auth.principal import current_principal, require_staff_or_device
from server.db import db
from server.domain.scope import get_order_for_field_work
from server.errors import ApiError, ValidationFailed
from server.models.media import Upload
from server.views.media import UPLOADERS, outside_transaction, uploader_of

blp = Blueprint("uploads", __name__, description="Resumable uploads (tus 1.0).")

OFFSET_CONTENT_TYPE = "application/offset+octet-stream"


@blp.before_request
def _require_tus_version() -> None:
    """tus: every request but OPTIONS names the protocol version it speaks."""
    if request.method == "OPTIONS":
        return
    if request.headers.get("Tus-Resumable") != tus.TUS_VERSION:
        raise tus.TusVersionUnsupported(
            f"Send Tus-Resumable: {tus.TUS_VERSION}.", headers={"Tus-Version": tus.TUS_VERSION}
        )


@blp.after_request
def _tus_resumable(response: Response) -> Response:
    response.headers["Tus-Resumable"] = tus.TUS_VERSION
    return response


def _empty(status: int, headers: dict[str, str]) -> Response:
    response = current_app.response_class(status=status)
    response.headers.update(headers)
    return response


def _expires(upload: Upload) -> str:
    return http_date(upload.expires_at)


TUS_DOC = {"parameters": [{"in": "header", "name": "Tus-Resumable", "required": True,
                           "schema": {"type": "string", "enum": [tus.TUS_VERSION]}}]}
TUS_VERSION_DOC = f"tus_version_unsupported: Tus-Resumable is not {tus.TUS_VERSION}."


@blp.route("/uploads/")
class Uploads(MethodView):
    @blp.doc(security=[], responses={"204": {"description": "See the Tus-* headers."}})
    def options(self):
        """tus discovery: version, extensions, maximum size, checksum algorithms"""
        return _empty(204, {
            "Tus-Version": tus.TUS_VERSION,
            "Tus-Extension": ",".join(tus.TUS_EXTENSIONS),
            "Tus-Max-Size": str(current_app.config["SETTINGS"].max_media_bytes),
            "Tus-Checksum-Algorithm": ",".join(tus.CHECKSUM_ALGORITHMS),
        })

    @require_staff_or_device(*UPLOADERS)
    @blp.doc(**TUS_DOC, responses={"201": {"description": "Created; see Location."}})
    @blp.alt_response(412, description=TUS_VERSION_DOC)
    def post(self):
        """Create an upload (tus creation)

        Upload-Length, and Upload-Metadata with base64 values: order_id, media_id, kind,
        filename, taken_at, optionally sha256, location (JSON) and filetype.
        """
        principal = current_principal()
        if request.headers.get("Upload-Defer-Length"):
            raise ApiError("Upload-Defer-Length is not supported.", code="bad_request")
        try:
            length = int(request.headers.get("Upload-Length", ""))
        except ValueError as error:
            raise ApiError("Upload-Length must be a non-negative integer.",
                           code="bad_request") from error
        if length < 0:
            raise ApiError("Upload-Length must be a non-negative integer.", code="bad_request")
        header = request.headers.get("Upload-Metadata", "")
        metadata = tus.validate_metadata(tus.parse_metadata(header))
        session = db.session
        order, _ = get_order_for_field_work(session, principal, metadata["order_id"])
        upload = tus.create(
            session, actor=principal.actor, order=order, metadata=metadata,
            metadata_header=header, length=length,
            max_bytes=current_app.config["SETTINGS"].max_media_bytes,
        )
        return _empty(201, {"Location": f"/api/v1/uploads/{upload.id}",
                            "Upload-Expires": _expires(upload)})


@blp.route("/uploads/<uuid:upload_id>")
class UploadItem(MethodView):
    @require_staff_or_device(*UPLOADERS)
    @blp.doc(**TUS_DOC, responses={"200": {"description": "See Upload-Offset and Upload-Length."}})
    @blp.alt_response(412, description=TUS_VERSION_DOC)
    def head(self, upload_id: uuid.UUID):
        """The upload's offset and length (tus core)"""
        upload = tus.load(db.session, upload_id, current_principal().actor)
        headers = {
            "Upload-Offset": str(upload.upload_offset),
            "Upload-Length": str(upload.upload_length),
            "Upload-Expires": _expires(upload),
            "Cache-Control": "no-store",
        }
        if upload.metadata_header:
            headers["Upload-Metadata"] = upload.metadata_header
        return _empty(200, headers)

    @require_staff_or_device(*UPLOADERS)
    @blp.doc(**TUS_DOC, responses={"204": {"description": "Stored; see Upload-Offset."}})
    @blp.alt_response(412, description=TUS_VERSION_DOC)
    def patch(self, upload_id: uuid.UUID):
        """Append bytes at Upload-Offset (application/offset+octet-stream, Upload-Checksum)"""
        principal = current_principal()
        if request.mimetype != OFFSET_CONTENT_TYPE:
            raise tus.UnsupportedMediaType(f"PATCH bodies must be {OFFSET_CONTENT_TYPE}.")
        session = db.session
        store = store_of(current_app)
        upload = tus.load(session, upload_id, principal.actor)
        if upload.completed_at is not None:
            raise ValidationFailed("This upload is already complete.",
                                   errors={"Upload-Offset": ["The upload is complete."]})
        offset = tus.check_offset(upload, request.headers.get("Upload-Offset"))
        checksum = tus.parse_checksum(request.headers.get("Upload-Checksum"))
        remaining = upload.upload_length - upload.upload_offset
        chunk = outside_transaction(
            lambda: tus.receive_chunk(store, remaining, request.stream.read, checksum))
        try:
            upload = tus.load(session, upload_id, principal.actor, for_update=True)
        except ApiError:
            chunk.discard()
            raise
        tus.append(session, store, upload, offset, chunk, uploader_of(principal))
        return _empty(204, {"Upload-Offset": str(upload.upload_offset),
                            "Upload-Expires": _expires(upload)})

    @require_staff_or_device(*UPLOADERS)
    @blp.doc(**TUS_DOC, responses={"204": {"description": "Terminated."}})
    @blp.alt_response(412, description=TUS_VERSION_DOC)
    def delete(self, upload_id: uuid.UUID):
        """Terminate an upload and discard its data (tus termination)"""
        session = db.session
        upload = tus.load(session, upload_id, current_principal().actor, for_update=True)
        tus.terminate(session, store_of(current_app), upload)
        return _empty(204, {})
