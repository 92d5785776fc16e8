"""tus 1.0 resumable uploads (core, creation, checksum, termination, expiration), minus HTTP.

Each PATCH body is streamed to the temp area, checked against `Upload-Checksum`, fsynced and
stored as one part (`uploads/<id>/<offset>`); only then does the upload row's offset move, in
the request's transaction. Any worker can take the next PATCH: the offset lives in the
database and the parts in the media store. The final PATCH assembles the parts and hands the
file to the same verify/store/commit path as a direct upload (`media.uploads.accept`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from media.incoming import FileSink, IncomingFile, receive
from media.storage import (
    KeyNotFound,
    MediaStore,
    StoreError,
    upload_part_key,
    upload_prefix,
)
from media.uploads import MediaClaim, Uploader, accept, after_commit
from schemas.media import UploadMetadataSchema
from server.domain.audit import Actor
from server.errors import (
    ApiError,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    ValidationFailed,
)
from server.models.base import utcnow
from server.models.media import Media, Upload
from server.models.orders import Order

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = ("creation", "checksum", "termination", "expiration")
#: sha256 as the protocol asks; sha1 because tus requires every server to accept it.
CHECKSUM_ALGORITHMS = ("sha256", "sha1")
UPLOAD_TTL = dt.timedelta(hours=24)
MAX_METADATA_HEADER = 2000


class TusVersionUnsupported(ApiError):
    status, code = 412, "tus_version_unsupported"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class ChecksumMismatch(ApiError):
    """tus checksum extension: the PATCH body does not match its Upload-Checksum."""

    status, code = 460, "checksum_mismatch"


def parse_metadata(header: str) -> dict[str, str]:
    """`key base64,key2 base64` -> decoded dict; 422 on a malformed header."""
    if len(header) > MAX_METADATA_HEADER:
        raise ValidationFailed(errors={"Upload-Metadata": ["The header is too long."]})
    result: dict[str, str] = {}
    for pair in filter(None, (item.strip() for item in header.split(","))):
        key, _, value = pair.partition(" ")
        try:
            result[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise ValidationFailed(errors={"Upload-Metadata": [f"{key}: not base64 UTF-8."]}) \
                from error
    return result


def validate_metadata(raw: dict[str, str]) -> dict[str, Any]:
    """Check the metadata keys the protocol needs; unknown keys are kept out, not refused."""
    known = {name: raw[name] for name in UploadMetadataSchema().fields if name in raw}
    try:
        return UploadMetadataSchema().load(known)
    except ValidationError as error:
        raise ValidationFailed("Upload-Metadata is incomplete or invalid.",
                               errors=error.messages_dict) from error


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """`Upload-Checksum: <algorithm> <base64 digest>`; 400 for an unknown algorithm."""
    if not header:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise ApiError(f"Checksum algorithm {algorithm!r} is not supported.",
                       code="checksum_algorithm_unsupported")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error as error:
        raise ApiError("Upload-Checksum is not base64.", code="bad_request") from error
    if len(digest) != hashlib.new(algorithm).digest_size:
        raise ApiError("Upload-Checksum has the wrong length.", code="bad_request")
    return algorithm, digest


def create(session: Session, *, actor: Actor, order: Order, metadata: dict[str, Any],
           metadata_header: str, length: int, max_bytes: int) -> Upload:
    """A new upload of `length` bytes for `order`, expiring after UPLOAD_TTL."""
    if length > max_bytes:
        raise PayloadTooLarge(f"Upload-Length is over the limit of {max_bytes} bytes.")
    now = utcnow()
    upload = Upload(
        id=uuid.uuid4(), user_id=actor.user_id, device_id=actor.device_id, order_id=order.id,
        media_id=metadata["media_id"], kind=metadata["kind"], filename=metadata["filename"],
        taken_at=metadata["taken_at"], sha256=(metadata["sha256"] or "").lower() or None,
        location=metadata["location"], metadata_header=metadata_header, upload_length=length,
        upload_offset=0, created_at=now, expires_at=now + UPLOAD_TTL,
    )
    session.add(upload)
    session.flush()
    return upload


def load(session: Session, upload_id: uuid.UUID, actor: Actor, *,
         for_update: bool = False) -> Upload:
    """The caller's own, unexpired upload; 404 for anything else (tus allows 404 or 410)."""
    query = select(Upload).where(Upload.id == upload_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    upload = session.scalars(query).one_or_none()
    if (
        upload is None
        or upload.user_id != actor.user_id
        or upload.device_id != actor.device_id
        or upload.expires_at <= utcnow()
    ):
        raise NotFound("No such upload (it may have expired).")
    return upload


def check_offset(upload: Upload, offset_header: str | None) -> int:
    try:
        offset = int(offset_header or "")
    except ValueError as error:
        raise ApiError("Upload-Offset must be a non-negative integer.",
                       code="bad_request") from error
    if offset < 0:
        raise ApiError("Upload-Offset must be a non-negative integer.", code="bad_request")
    if offset != upload.upload_offset:
        raise Conflict(f"Upload-Offset {offset} does not match the server's offset "
                       f"{upload.upload_offset}; HEAD the upload and resume from there.",
                       headers={"Upload-Offset": str(upload.upload_offset)})
    return offset


def receive_chunk(store: MediaStore, remaining: int, read: Callable[[int], bytes],
                  checksum: tuple[str, bytes] | None) -> IncomingFile:
    """Stream one PATCH body to the temp area, bounded by the `remaining` bytes the upload
    still lacks (a plain number: no database access while the body arrives)."""
    try:
        chunk, digest = receive(store, read, remaining, checksum[0] if checksum else None)
    except PayloadTooLarge as error:
        raise PayloadTooLarge("The body goes past Upload-Length.") from error
    if checksum is not None and digest != checksum[1]:
        chunk.discard()
        raise ChecksumMismatch("The body does not match Upload-Checksum; send it again.")
    return chunk


def append(session: Session, store: MediaStore, upload: Upload, offset: int,
           chunk: IncomingFile, uploader: Uploader) -> Media | None:
    """Store the chunk as a part and move the offset; the last one finishes the upload.

    `upload` is locked and its offset was checked against `offset` after the body arrived.
    """
    if upload.upload_offset != offset:
        chunk.discard()
        raise Conflict("Another request moved this upload's offset; HEAD it and resume.",
                       headers={"Upload-Offset": str(upload.upload_offset)})
    if chunk.size:
        try:
            store.put_file(upload_part_key(str(upload.id), offset), chunk.path,
                           "application/octet-stream")
        except (StoreError, OSError) as error:
            chunk.discard()
            raise ServiceUnavailable("The media store did not accept the data; retry.",
                                     headers={"Retry-After": "5"}) from error
    else:
        chunk.discard()
    upload.upload_offset = offset + chunk.size
    if upload.upload_offset < upload.upload_length:
        return None
    return finish(session, store, upload, uploader)


def finish(session: Session, store: MediaStore, upload: Upload, uploader: Uploader) -> Media:
    """Assemble the parts and record the media exactly as a direct upload would."""
    incoming = assemble(store, upload)
    claim = MediaClaim(
        order_id=upload.order_id, media_id=upload.media_id, kind=upload.kind,
        sha256=upload.sha256, taken_at=upload.taken_at, location=upload.location,
        claimed_type=parse_metadata(upload.metadata_header).get("filetype"),
        filename=upload.filename or None,
    )
    media, _created = accept(session, store, uploader, claim, incoming)
    upload.completed_at = utcnow()
    after_commit(session, lambda: delete_parts(store, str(upload.id)))
    return media


def assemble(store: MediaStore, upload: Upload) -> IncomingFile:
    """Concatenate the parts (walking offsets, so a stale part from a retry is ignored)."""
    with FileSink(store, upload.upload_length) as sink:
        offset = 0
        while offset < upload.upload_length:
            try:
                with store.open(upload_part_key(str(upload.id), offset)) as part:
                    before = sink.size
                    while data := part.read(1024 * 1024):
                        sink.write(data)
            except KeyNotFound as error:
                raise ServiceUnavailable(
                    "A part of this upload is missing from the store; upload it again.",
                ) from error
            if sink.size == before:
                raise ServiceUnavailable("An empty part was found; upload it again.")
            offset = sink.size
        return sink.finish()


def delete_parts(store: MediaStore, upload_id: str) -> int:
    removed = 0
    for stored in list(store.iter_objects(upload_prefix(upload_id))):
        store.delete(stored.key)
        removed += 1
    return removed


def terminate(session: Session, store: MediaStore, upload: Upload) -> None:
    """tus termination: forget the upload; its parts go once the deletion commits."""
    upload_id = str(upload.id)
    session.delete(upload)
    after_commit(session, lambda: delete_parts(store, upload_id))
