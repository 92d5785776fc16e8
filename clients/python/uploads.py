"""Resumable media uploads with tus 1.0 (tuspy), the upload URL kept in the outbox.

The URL is stored before the first byte is sent, so after a crash or a cut connection the
next sync asks the server for the offset it holds (HEAD) and sends only the rest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from urllib.parse import urljoin

from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.uploader import Uploader

from clients.python.errors import AuthenticationFailed, DeviceRevoked, SyncError
from clients.python.store import PendingUpload, Store
from clients.python.transport import Transport

log = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024
UPLOADS_PATH = "/api/v1/uploads/"


class Sha256Uploader(Uploader):
    """The server's tus checksum extension speaks sha256; tuspy defaults to sha1."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


def _metadata(upload: PendingUpload) -> dict[str, str]:
    return {"order_id": upload.order_id, "media_id": upload.media_id, "kind": upload.kind,
            "filename": upload.filename, "taken_at": upload.taken_at, "sha256": upload.sha256}


def _server_offset(transport: Transport, url: str) -> int | None:
    """The offset the server holds for `url`, or None when the upload is gone (expired)."""
    response = transport.request("HEAD", url, headers={"Tus-Resumable": "1.0.0"},
                                 expect=(200, 204, 404, 410))
    if response.status_code in (404, 410):
        return None
    return int(response.headers.get("Upload-Offset", "0"))


def _create(transport: Transport, upload: PendingUpload) -> str:
    encoded = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}"
                       for key, value in _metadata(upload).items())
    response = transport.request(
        "POST", UPLOADS_PATH, expect=(201,),
        headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(upload.size),
                 "Upload-Metadata": encoded})
    return urljoin(transport.url(UPLOADS_PATH), response.headers["Location"])


#: Problem codes that no retry can fix; anything else (409 offset moved, 422 already complete
#: after a lost answer, a cut connection) is resolved by asking the server's offset again.
REFUSAL_CODES = frozenset({"invalid_image", "payload_too_large", "media_id_reused"})
#: When creating the upload, these too are final (the order left my scope, bad metadata).
CREATE_REFUSAL_CODES = REFUSAL_CODES | {"validation_error", "not_found", "forbidden"}


def _problem_code(content: bytes | str) -> str | None:
    try:
        body = json.loads(content)
    except (ValueError, TypeError):
        return None
    return body.get("code") if isinstance(body, dict) else None


class UploadRefused(SyncError):
    """The server will never take this file (not an image, too large): kept and shown."""


def _send_rest(transport: Transport, upload: PendingUpload, url: str, offset: int) -> None:
    client = TusClient(transport.url(UPLOADS_PATH), headers=transport.headers())
    uploader = Sha256Uploader(file_path=upload.path, client=client, chunk_size=CHUNK_SIZE,
                              upload_checksum=True, metadata=_metadata(upload))
    uploader.url = url
    uploader.offset = offset
    while uploader.offset < upload.size:
        try:
            uploader.upload_chunk()
        except (TusUploadFailed, TusCommunicationError) as error:
            status = error.status_code
            content = error.response_content or b""
            if status == 401:
                if b"device_revoked" in content:
                    raise DeviceRevoked() from error
                raise AuthenticationFailed("upload refused: 401", status=401) from error
            code = _problem_code(content)
            if code in REFUSAL_CODES:
                raise UploadRefused(f"{status} {code}: {content[:300].decode(errors='replace')}",
                                    status=status, code=code) from error
            raise SyncError(f"upload {upload.media_id} interrupted: {error}") from error


def upload_one(store: Store, transport: Transport, upload: PendingUpload) -> None:
    """Send one pending file to its end, resuming where the server says; retries cuts."""
    last: SyncError | None = None
    for attempt in range(transport.attempts):
        url = store.upload_url(upload.media_id)
        offset = _server_offset(transport, url) if url else None
        if url and offset is None:
            log.info("upload %s expired on the server; starting again", upload.media_id)
            store.set_upload_url(upload.media_id, None)
            url = None
        if url is None:
            try:
                url = _create(transport, upload)
            except SyncError as error:
                if error.code in CREATE_REFUSAL_CODES:
                    raise UploadRefused(str(error), status=error.status, code=error.code) from error
                raise
            store.set_upload_url(upload.media_id, url)
            offset = 0
        if offset is not None and offset >= upload.size:
            return
        try:
            _send_rest(transport, upload, url, offset or 0)
            return
        except (UploadRefused, AuthenticationFailed):
            raise
        except SyncError as error:
            last = error
            transport.sleep(transport.backoff(attempt))
    raise last or SyncError(f"upload {upload.media_id} did not finish")
