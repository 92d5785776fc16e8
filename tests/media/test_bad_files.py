"""Every kind of bad file is refused with a clear problem, and leaves no record and no file."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import func, select

from media.storage import content_key
from server.db import db
from server.models.media import Media
from tests.media.conftest import post_media
from tests.media.imaging import huge_png, picture, sha256, signature


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "green").save(buffer, format="GIF")
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = picture("JPEG", (800, 600), noise=True)
    return data[: len(data) * 2 // 3]


def truncated_png() -> bytes:
    data = picture("PNG", (400, 300), noise=True)
    return data[: len(data) // 2]


def jpeg_with_zip_appended() -> bytes:
    """A polyglot: a valid JPEG that is also a ZIP archive (data after the EOI marker)."""
    archive = (b"PK\x03\x04" + b"\x14\x00" + b"\x00" * 20 + b"evil.sh#!/bin/sh\nrm -rf /\n"
               + b"PK\x05\x06" + b"\x00" * 18)
    return picture("JPEG") + archive


def png_with_script_after_iend() -> bytes:
    return picture("PNG") + b"<script>alert(1)</script>"


def webp_with_trailer() -> bytes:
    return picture("WEBP") + b"trailing"


#: (case, bytes, filename, content type)
BAD_FILES = [
    ("text file", b"just some text, not an image\n" * 10, "photo.jpg", "image/jpeg"),
    ("GIF (a real image, not an accepted type)", gif(), "photo.gif", "image/gif"),
    ("truncated JPEG", truncated_jpeg(), "photo.jpg", "image/jpeg"),
    ("truncated PNG", truncated_png(), "photo.png", "image/png"),
    ("PNG sent as image/jpeg", picture("PNG", (611, 411)), "photo.jpg", "image/jpeg"),
    ("JPEG named .png", picture("JPEG", (612, 412)), "photo.png", "application/octet-stream"),
    ("JPEG with a ZIP appended", jpeg_with_zip_appended(), "photo.jpg", "image/jpeg"),
    ("PNG with data after IEND", png_with_script_after_iend(), "photo.png", "image/png"),
    ("WebP with data after its RIFF size", webp_with_trailer(), "photo.webp", "image/webp"),
    ("decompression bomb of 56 megapixels", huge_png(8000, 7000), "photo.png", "image/png"),
    ("bomb beyond twice the limit", huge_png(12000, 10000), "photo.png", "image/png"),
]


def media_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Media))


def temp_files(app) -> set[str]:
    return {path.name for path in app.extensions["fieldsync_media_store"].temp_dir.iterdir()}


@pytest.mark.parametrize(("case", "data", "filename", "content_type"), BAD_FILES,
                         ids=[case for case, *_ in BAD_FILES])
def test_a_bad_file_is_invalid_image_and_leaves_nothing(client, crew, app, case, data, filename,
                                                       content_type):
    temp_before = temp_files(app)

    response = post_media(client, crew.headers, crew.order.id, data, filename=filename,
                          content_type=content_type)

    assert response.status_code == 422, case
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json["code"] == "invalid_image"
    assert response.json["detail"]
    assert media_count(app) == 0
    assert not app.extensions["fieldsync_media_store"].exists(content_key(sha256(data)))
    assert temp_files(app) == temp_before


def test_a_bomb_png_is_tiny_on_the_wire():
    assert len(huge_png(8000, 7000)) < 100_000


def test_a_declared_hash_that_does_not_match_is_invalid_image(client, crew, app):
    data = picture()

    response = post_media(client, crew.headers, crew.order.id, data, digest="0" * 64)

    assert response.status_code == 422
    assert response.json["code"] == "invalid_image"
    assert response.json["errors"] == {"sha256": [f"The file's sha256 is {sha256(data)}."]}
    assert media_count(app) == 0


def test_a_malformed_hash_is_a_validation_error(client, crew):
    response = post_media(client, crew.headers, crew.order.id, picture(), digest="xyz")

    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert "sha256" in response.json["errors"]


def test_a_file_over_25_mib_is_payload_too_large(client, crew, app):
    data = b"\xff\xd8" + b"\x00" * (25 * 1024 * 1024 - 1)
    temp_before = temp_files(app)

    response = post_media(client, crew.headers, crew.order.id, data)

    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"
    assert temp_files(app) == temp_before
    assert media_count(app) == 0


def test_a_body_over_the_media_limit_is_refused_before_it_is_read(client, crew):
    response = client.post(
        f"/api/v1/orders/{crew.order.id}/media", headers=crew.headers,
        data=b"x" * (27 * 1024 * 1024),
        content_type="multipart/form-data; boundary=abc",
    )

    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"


@pytest.mark.parametrize(("case", "data", "filename", "content_type"), [
    ("JPEG signature", picture("JPEG", (600, 200)), "sig.jpg", "image/jpeg"),
    ("too small", signature("PNG", (80, 40)), "sig.png", "image/png"),
    ("too wide", signature("PNG", (4500, 200)), "sig.png", "image/png"),
    ("too tall", signature("WEBP", (400, 4200)), "sig.webp", "image/webp"),
])
def test_a_signature_of_the_wrong_format_or_size_is_invalid_image(client, crew, app, case, data,
                                                                 filename, content_type):
    response = post_media(client, crew.headers, crew.order.id, data, kind="signature",
                          media_id=str(uuid.uuid4()), filename=filename,
                          content_type=content_type)

    assert response.status_code == 422, case
    assert response.json["code"] == "invalid_image"
    assert media_count(app) == 0
