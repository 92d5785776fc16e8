"""tus 1.0 details through the test client: discovery, creation, offsets, checksums,
termination, expiration and the errors, each with Tus-Resumable and problem+json."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid

import pytest
from sqlalchemy import func, select

from server.db import db
from server.models.media import Media, Upload
from tests.media import tus_calls as tus
from tests.media.imaging import picture, sha256


@pytest.fixture
def photo() -> bytes:
    return picture("JPEG", (640, 480), noise=True)


def media_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Media))


def parts(app, location: str) -> list[str]:
    upload_id = location.rsplit("/", 1)[1]
    return [obj.key for obj in
            app.extensions["fieldsync_media_store"].iter_objects(f"uploads/{upload_id}/")]


def test_options_announces_version_extensions_size_and_checksums(client):
    response = client.options("/api/v1/uploads/")

    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation", "checksum", "termination", "expiration"}
    assert response.headers["Tus-Max-Size"] == str(25 * 1024 * 1024)
    assert "sha256" in response.headers["Tus-Checksum-Algorithm"].split(",")


def test_creation_answers_201_with_location_and_expiry(client, crew, photo):
    response = tus.create(client, crew.headers, len(photo), tus.metadata(crew.order.id))

    assert response.status_code == 201
    assert response.headers["Location"].startswith("/api/v1/uploads/")
    assert response.headers["Tus-Resumable"] == "1.0.0"
    expires = dt.datetime.strptime(response.headers["Upload-Expires"],
                                   "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=dt.UTC)
    assert dt.timedelta(hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=24)


def test_head_reports_offset_and_length_and_is_not_cached(client, crew, photo):
    location = tus.create(client, crew.headers, len(photo),
                          tus.metadata(crew.order.id)).headers["Location"]
    tus.patch(client, crew.headers, location, 0, photo[:1000])

    response = tus.head(client, crew.headers, location)

    assert response.status_code == 200
    assert response.headers["Upload-Offset"] == "1000"
    assert response.headers["Upload-Length"] == str(len(photo))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Tus-Resumable"] == "1.0.0"


def test_chunks_with_sha256_checksums_complete_into_a_media_record(client, crew, app, photo):
    values = tus.metadata(crew.order.id, sha256=sha256(photo))
    location = tus.create(client, crew.headers, len(photo), values).headers["Location"]
    offset = 0
    for start in range(0, len(photo), 40_000):
        chunk = photo[start:start + 40_000]
        checksum = "sha256 " + base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        response = tus.patch(client, crew.headers, location, offset, chunk,
                             **{"Upload-Checksum": checksum})
        assert response.status_code == 204, response.json
        offset = int(response.headers["Upload-Offset"])

    record = client.get(f"/api/v1/media/{values['media_id']}", headers=crew.headers)
    assert record.status_code == 200
    assert record.json["sha256"] == sha256(photo)
    assert (record.json["width"], record.json["height"]) == (640, 480)
    assert parts(app, location) == []


def test_a_checksum_mismatch_is_460_and_the_offset_does_not_move(client, crew, photo):
    location = tus.create(client, crew.headers, len(photo),
                          tus.metadata(crew.order.id)).headers["Location"]
    wrong = "sha256 " + base64.b64encode(hashlib.sha256(b"other").digest()).decode()

    response = tus.patch(client, crew.headers, location, 0, photo[:5000],
                         **{"Upload-Checksum": wrong})

    assert response.status_code == 460
    assert response.json["code"] == "checksum_mismatch"
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert tus.head(client, crew.headers, location).headers["Upload-Offset"] == "0"


def test_an_unknown_checksum_algorithm_is_400(client, crew, photo):
    location = tus.create(client, crew.headers, len(photo),
                          tus.metadata(crew.order.id)).headers["Location"]

    response = tus.patch(client, crew.headers, location, 0, photo[:10],
                         **{"Upload-Checksum": "md5 AAAA"})

    assert response.status_code == 400


def test_a_patch_at_the_wrong_offset_is_409(client, crew, photo):
    location = tus.create(client, crew.headers, len(photo),
                          tus.metadata(crew.order.id)).headers["Location"]
    tus.patch(client, crew.headers, location, 0, photo[:100])

    response = tus.patch(client, crew.headers, location, 0, photo[:100])

    assert response.status_code == 409
    assert response.headers["Upload-Offset"] == "100"
    assert response.headers["Tus-Resumable"] == "1.0.0"


def test_a_patch_past_the_upload_length_is_413(client, crew):
    location = tus.create(client, crew.headers, 10,
                          tus.metadata(crew.order.id)).headers["Location"]

    response = tus.patch(client, crew.headers, location, 0, b"x" * 11)

    assert response.status_code == 413
    assert tus.head(client, crew.headers, location).headers["Upload-Offset"] == "0"


def test_a_patch_with_another_content_type_is_415(client, crew):
    location = tus.create(client, crew.headers, 10,
                          tus.metadata(crew.order.id)).headers["Location"]

    response = tus.patch(client, crew.headers, location, 0, b"x",
                         **{"Content-Type": "application/octet-stream"})

    assert response.status_code == 415


def test_a_request_without_tus_resumable_is_412_with_the_supported_version(client, crew):
    response = client.post("/api/v1/uploads/", headers={**crew.headers, "Upload-Length": "10"})

    assert response.status_code == 412
    assert response.headers["Tus-Version"] == "1.0.0"
    assert response.headers["Tus-Resumable"] == "1.0.0"


def test_an_upload_over_25_mib_is_refused_at_creation(client, crew):
    response = tus.create(client, crew.headers, 25 * 1024 * 1024 + 1,
                          tus.metadata(crew.order.id))

    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"


def test_incomplete_metadata_is_a_validation_error(client, crew):
    values = tus.metadata(crew.order.id)
    del values["media_id"]

    response = tus.create(client, crew.headers, 10, values)

    assert response.status_code == 422
    assert "media_id" in response.json["errors"]
    assert response.headers["Tus-Resumable"] == "1.0.0"


def test_an_order_outside_the_scope_is_404_at_creation(client, crew, factory):
    _device, token = factory.device(team=factory.team())

    response = tus.create(client, {"Authorization": f"Bearer {token}"}, 10,
                          tus.metadata(crew.order.id))

    assert response.status_code == 404


def test_another_device_cannot_see_or_continue_an_upload(client, crew, factory, photo):
    location = tus.create(client, crew.headers, len(photo),
                          tus.metadata(crew.order.id)).headers["Location"]
    _device, token = factory.device(team=crew.team)
    other = {"Authorization": f"Bearer {token}"}

    assert tus.head(client, other, location).status_code == 404
    assert tus.patch(client, other, location, 0, photo[:10]).status_code == 404


def test_a_request_without_a_token_is_401_with_tus_resumable(client, crew):
    response = tus.create(client, {}, 10, tus.metadata(crew.order.id))

    assert response.status_code == 401
    assert response.headers["Tus-Resumable"] == "1.0.0"


def test_termination_discards_the_upload_and_its_parts(client, crew, app, photo):
    location = tus.create(client, crew.headers, len(photo),
                          tus.metadata(crew.order.id)).headers["Location"]
    tus.patch(client, crew.headers, location, 0, photo[:5000])
    assert len(parts(app, location)) == 1

    response = client.delete(location, headers={**crew.headers, **tus.TUS})

    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert tus.head(client, crew.headers, location).status_code == 404
    assert parts(app, location) == []


def test_an_expired_upload_is_gone_and_the_sweep_removes_its_parts(client, crew, app, photo):
    location = tus.create(client, crew.headers, len(photo),
                          tus.metadata(crew.order.id)).headers["Location"]
    tus.patch(client, crew.headers, location, 0, photo[:5000])
    with app.app_context(), db.transaction() as session:
        upload = session.get(Upload, uuid.UUID(location.rsplit("/", 1)[1]))
        upload.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)

    assert tus.head(client, crew.headers, location).status_code == 404
    assert tus.patch(client, crew.headers, location, 5000, photo[5000:6000]).status_code == 404

    result = app.test_cli_runner().invoke(args=["sweep-media"])

    assert result.exit_code == 0, result.output
    assert "expired uploads: 1, upload parts: 1" in result.output
    assert parts(app, location) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Upload)) == 0


def test_a_finished_upload_that_is_not_an_image_is_invalid_image(client, crew, app):
    data = b"not an image at all" * 100
    location = tus.create(client, crew.headers, len(data),
                          tus.metadata(crew.order.id)).headers["Location"]

    response = tus.patch(client, crew.headers, location, 0, data)

    assert response.status_code == 422
    assert response.json["code"] == "invalid_image"
    assert media_count(app) == 0
