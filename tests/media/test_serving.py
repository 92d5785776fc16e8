"""Metadata, content and thumbnails: Content-Type, strong ETag, immutable caching, 304."""

from __future__ import annotations

import io

from PIL import Image

from tests.media.conftest import post_media
from tests.media.imaging import picture, sha256

IMMUTABLE = "private, max-age=31536000, immutable"


def test_the_content_is_served_with_its_hash_as_a_strong_etag(client, crew):
    data = picture("PNG")
    body = post_media(client, crew.headers, crew.order.id, data, filename="p.png",
                      content_type="image/png").json

    response = client.get(body["content_url"], headers=crew.headers)

    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["ETag"] == f'"{sha256(data)}"'
    assert response.headers["Cache-Control"] == IMMUTABLE


def test_a_matching_if_none_match_answers_304_without_a_body(client, crew):
    data = picture()
    body = post_media(client, crew.headers, crew.order.id, data).json

    response = client.get(body["content_url"],
                          headers={**crew.headers, "If-None-Match": f'"{sha256(data)}"'})

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == f'"{sha256(data)}"'


def test_a_stale_if_none_match_gets_the_bytes(client, crew):
    data = picture()
    body = post_media(client, crew.headers, crew.order.id, data).json

    response = client.get(body["content_url"], headers={**crew.headers, "If-None-Match": '"x"'})

    assert response.status_code == 200
    assert response.data == data


def test_the_thumbnail_is_a_small_jpeg_with_its_own_etag(client, crew):
    body = post_media(client, crew.headers, crew.order.id, picture("JPEG", (1600, 1200))).json

    response = client.get(body["thumbnail_url"], headers=crew.headers)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Cache-Control"] == IMMUTABLE
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert Image.open(io.BytesIO(response.data)).size == (320, 240)
    again = client.get(body["thumbnail_url"], headers={**crew.headers, "If-None-Match": etag})
    assert again.status_code == 304


def test_the_metadata_is_the_record_the_upload_returned(client, crew, factory):
    body = post_media(client, crew.headers, crew.order.id, picture()).json

    for headers in (crew.headers, factory.staff_headers("agent")):
        response = client.get(f"/api/v1/media/{body['id']}", headers=headers)
        assert response.status_code == 200
        assert response.json == body


def test_an_unknown_media_id_is_404(client, crew):
    response = client.get("/api/v1/media/00000000-0000-0000-0000-000000000000",
                          headers=crew.headers)

    assert response.status_code == 404
    assert response.json["code"] == "not_found"
