"""A stock tus client (tuspy) against a real gunicorn with 2 workers: chunked uploads,
interruption and resumption, ending with the same record a direct upload gives."""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
import requests
from tusclient.client import TusClient
from tusclient.uploader import Uploader

from tests.media.imaging import picture, sha256

CHUNK = 32 * 1024
pytestmark = pytest.mark.slow


class Sha256Uploader(Uploader):
    """tuspy checksums with sha1 by default; our clients use sha256."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


@pytest.fixture(scope="module")
def photo() -> bytes:
    data = picture("JPEG", (1024, 768), noise=True)
    assert len(data) > 5 * CHUNK
    return data


@pytest.fixture
def server(gunicorn_server) -> str:
    return gunicorn_server(workers=2)


def tus_client(base: str, token: str) -> TusClient:
    return TusClient(f"{base}/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"})


def tus_metadata(crew, media_id: str, data: bytes) -> dict[str, str]:
    return {"order_id": str(crew.order.id), "media_id": media_id, "kind": "photo",
            "filename": "photo.jpg", "taken_at": "2026-11-21T08:15:30.125Z",
            "sha256": sha256(data)}


def direct_upload(base: str, crew, data: bytes, media_id: str) -> requests.Response:
    return requests.post(
        f"{base}/api/v1/orders/{crew.order.id}/media", headers=crew.headers, timeout=30,
        data={"id": media_id, "kind": "photo", "sha256": sha256(data),
              "taken_at": "2026-11-21T08:15:30.125Z"},
        files={"file": ("photo.jpg", data, "image/jpeg")},
    )


def get_record(base: str, crew, media_id: str) -> dict:
    response = requests.get(f"{base}/api/v1/media/{media_id}", headers=crew.headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_tuspy_uploads_in_several_patches_with_sha256_checksums(server, crew, photo):
    media_id = str(uuid.uuid4())
    uploader = Sha256Uploader(file_stream=io.BytesIO(photo), client=tus_client(server, crew.token),
                              chunk_size=CHUNK, metadata=tus_metadata(crew, media_id, photo),
                              upload_checksum=True)
    patches = 0
    uploader.upload_chunk()
    patches += 1
    while uploader.offset < len(photo):
        uploader.upload_chunk()
        patches += 1

    assert patches == -(-len(photo) // CHUNK)
    record = get_record(server, crew, media_id)
    assert record["sha256"] == sha256(photo)
    assert (record["width"], record["height"], record["size"]) == (1024, 768, len(photo))
    content = requests.get(server + record["content_url"], headers=crew.headers, timeout=30)
    assert content.content == photo


def test_an_interrupted_upload_resumes_from_the_server_offset(server, crew, photo):
    media_id = str(uuid.uuid4())
    first = tus_client(server, crew.token).uploader(
        file_stream=io.BytesIO(photo), chunk_size=CHUNK,
        metadata=tus_metadata(crew, media_id, photo), upload_checksum=True)
    first.upload(stop_at=3 * CHUNK)
    assert requests.get(f"{server}/api/v1/media/{media_id}", headers=crew.headers,
                        timeout=30).status_code == 404

    # A new client (the app restarted) asks the server where to resume.
    second = tus_client(server, crew.token).uploader(
        file_stream=io.BytesIO(photo), url=first.url, chunk_size=CHUNK, upload_checksum=True)
    assert second.offset == 3 * CHUNK
    second.upload()

    resumed = get_record(server, crew, media_id)
    retry = direct_upload(server, crew, photo, media_id)
    assert retry.status_code == 200
    assert retry.json() == resumed
    direct = direct_upload(server, crew, photo, str(uuid.uuid4()))
    assert direct.status_code == 201
    differs = {"id", "created_at", "content_url", "thumbnail_url"}
    assert {k: v for k, v in direct.json().items() if k not in differs} == \
        {k: v for k, v in resumed.items() if k not in differs}


def test_the_server_refuses_a_resume_from_a_stale_offset(server, crew, photo):
    uploader = tus_client(server, crew.token).uploader(
        file_stream=io.BytesIO(photo), chunk_size=CHUNK,
        metadata=tus_metadata(crew, str(uuid.uuid4()), photo))
    uploader.upload(stop_at=2 * CHUNK)

    response = requests.patch(uploader.url, data=photo[:CHUNK], timeout=30, headers={
        **crew.headers, "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream"})

    assert response.status_code == 409
    assert response.headers["Upload-Offset"] == str(2 * CHUNK)
    assert response.headers["Tus-Resumable"] == "1.0.0"
