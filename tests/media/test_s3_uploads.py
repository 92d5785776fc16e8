"""The whole upload path on the S3 backend (moto's server on loopback): store, serve, tus."""

from __future__ import annotations

import pytest

from media.storage import S3Store, content_key
from server import create_app
from server.db import db
from tests.conftest import test_settings as base_settings
from tests.media import tus_calls as tus
from tests.media.conftest import post_media
from tests.media.imaging import picture, sha256


@pytest.fixture
def s3_app(database_url, media_root, s3_endpoint, s3_bucket):
    application = create_app({**base_settings(database_url, media_root),
                              "s3_bucket": s3_bucket, "s3_endpoint_url": s3_endpoint})
    yield application
    with application.app_context():
        db.engine.dispose()


def test_an_upload_lands_in_the_bucket_and_is_streamed_back(s3_app, crew):
    client = s3_app.test_client()
    store = s3_app.extensions["fieldsync_media_store"]
    assert isinstance(store, S3Store)
    data = picture("WEBP", (900, 700))

    body = post_media(client, crew.headers, crew.order.id, data, filename="p.webp",
                      content_type="image/webp").json
    content = client.get(body["content_url"], headers=crew.headers)
    thumb = client.get(body["thumbnail_url"], headers=crew.headers)

    assert store.exists(content_key(sha256(data)))
    assert content.status_code == 200
    assert content.data == data
    assert content.headers["Content-Type"] == "image/webp"
    assert content.headers["ETag"] == f'"{sha256(data)}"'
    assert thumb.headers["Content-Type"] == "image/jpeg"
    not_modified = client.get(body["content_url"],
                              headers={**crew.headers, "If-None-Match": f'"{sha256(data)}"'})
    assert not_modified.status_code == 304


def test_a_tus_upload_assembles_its_parts_from_the_bucket(s3_app, crew):
    client = s3_app.test_client()
    store = s3_app.extensions["fieldsync_media_store"]
    data = picture("JPEG", (800, 600), noise=True)
    values = tus.metadata(crew.order.id, sha256=sha256(data))
    location = tus.create(client, crew.headers, len(data), values).headers["Location"]
    for offset in range(0, len(data), 50_000):
        response = tus.patch(client, crew.headers, location, offset, data[offset:offset + 50_000])
        assert response.status_code == 204, response.json

    record = client.get(f"/api/v1/media/{values['media_id']}", headers=crew.headers).json
    assert record["sha256"] == sha256(data)
    assert list(store.iter_objects("uploads/")) == []


def test_readiness_checks_the_bucket(s3_app):
    assert s3_app.test_client().get("/readyz").json["checks"]["media_store"] == "ok"
