"""While an upload body arrives (minutes on a field network) the request holds no database
transaction: on SQLite another worker's write would otherwise wait for the whole upload."""

from __future__ import annotations

import io
import uuid

from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.media import tus_calls as tus
from tests.media.imaging import picture, sha256


class BodyThatWritesMeanwhile(io.BytesIO):
    """A request body that, when the server starts reading it, lets another writer commit."""

    def __init__(self, data: bytes, write_meanwhile) -> None:
        super().__init__(data)
        self.write_meanwhile = write_meanwhile
        self.wrote = False

    def _first_read(self) -> None:
        if not self.wrote:
            self.wrote = True
            self.write_meanwhile()

    def read(self, size: int | None = -1) -> bytes:
        self._first_read()
        return super().read(size)

    def readinto(self, buffer) -> int:
        self._first_read()
        return super().readinto(buffer)


def test_another_write_commits_while_a_direct_upload_body_arrives(client, crew, factory):
    data = picture()
    boundary, body = encode_multipart({
        "id": str(uuid.uuid4()), "kind": "photo", "sha256": sha256(data),
        "taken_at": "2026-11-21T08:15:30.125Z",
        "file": FileStorage(io.BytesIO(data), filename="photo.jpg", content_type="image/jpeg"),
    })
    stream = BodyThatWritesMeanwhile(body, lambda: factory.team())

    response = client.post(
        f"/api/v1/orders/{crew.order.id}/media", headers=crew.headers, input_stream=stream,
        content_type=f"multipart/form-data; boundary={boundary}", content_length=len(body),
    )

    assert stream.wrote
    assert response.status_code == 201, response.json


def test_another_write_commits_while_a_tus_chunk_arrives(client, crew, factory):
    data = picture()
    location = tus.create(client, crew.headers, len(data),
                          tus.metadata(crew.order.id)).headers["Location"]
    stream = BodyThatWritesMeanwhile(data, lambda: factory.team())

    response = client.patch(location, input_stream=stream, content_length=len(data), headers={
        **crew.headers, **tus.TUS, "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream"})

    assert stream.wrote
    assert response.status_code == 204, response.json
