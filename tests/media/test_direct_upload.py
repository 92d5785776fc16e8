"""Direct multipart uploads: every accepted format and orientation, EXIF facts, idempotency."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from PIL import Image

from media.storage import content_key
from tests.media.conftest import post_media
from tests.media.imaging import EXTENSIONS, FORMATS, make_exif, picture, sha256, signature

#: EXIF orientations 5-8 turn the picture a quarter turn: width and height swap.
QUARTER_TURNS = {1: False, 2: False, 3: False, 4: False, 5: True, 6: True, 7: True, 8: True}


@pytest.mark.parametrize("image_format", list(FORMATS))
def test_each_accepted_format_is_stored_with_its_facts(client, crew, app, image_format):
    data = picture(image_format, (800, 600))

    response = post_media(client, crew.headers, crew.order.id, data,
                          filename=f"p.{EXTENSIONS[image_format]}",
                          content_type=FORMATS[image_format])

    assert response.status_code == 201, response.json
    body = response.json
    assert body["content_type"] == FORMATS[image_format]
    assert (body["width"], body["height"]) == (800, 600)
    assert body["size"] == len(data)
    assert body["sha256"] == sha256(data)
    assert body["kind"] == "photo"
    assert body["taken_at"] == "2026-11-21T08:15:30.125Z"
    assert body["uploaded_by"] == {"user_id": str(crew.device.user_id),
                                   "device_id": str(crew.device.id)}
    assert body["content_url"] == f"/api/v1/media/{body['id']}/content"
    assert response.headers["Location"] == f"/api/v1/media/{body['id']}"
    assert app.extensions["fieldsync_media_store"].exists(content_key(sha256(data)))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_to_size_and_thumbnail(client, crew, orientation):
    data = picture("JPEG", (640, 400), exif=make_exif(orientation=orientation))

    body = post_media(client, crew.headers, crew.order.id, data).json
    thumb = client.get(body["thumbnail_url"], headers=crew.headers)

    turned = QUARTER_TURNS[orientation]
    assert (body["width"], body["height"]) == ((400, 640) if turned else (640, 400))
    image = Image.open(io.BytesIO(thumb.data))
    assert image.size == ((200, 320) if turned else (320, 200))
    assert max(image.size) == 320


def test_the_thumbnail_shows_the_picture_upright(client, crew):
    """Orientation 6 means 'rotate 90 degrees clockwise to view': the red left half of the
    stored pixels ends up on top."""
    data = picture("JPEG", (640, 400), exif=make_exif(orientation=6))

    body = post_media(client, crew.headers, crew.order.id, data).json
    image = Image.open(io.BytesIO(client.get(body["thumbnail_url"], headers=crew.headers).data))

    red, _green, blue = image.convert("RGB").getpixel((100, 20))
    assert red > 200 and blue < 60
    red, _green, blue = image.convert("RGB").getpixel((100, 300))
    assert blue > 200 and red < 60


@pytest.mark.parametrize("image_format", list(FORMATS))
def test_exif_capture_time_and_gps_are_stored(client, crew, image_format):
    exif = make_exif(taken="2026:11:20 16:45:10", offset="+08:00", gps=(28.6829, -115.8575))
    data = picture(image_format, exif=exif)

    body = post_media(client, crew.headers, crew.order.id, data,
                      filename=f"p.{EXTENSIONS[image_format]}",
                      content_type=FORMATS[image_format]).json

    assert body["exif_taken_at"] == "2026-11-20T08:45:10.000Z"  # in UTC, as every time served
    assert body["exif_camera_time"] == "2026-11-20T16:45:10"
    assert body["exif_gps"]["lat"] == pytest.approx(28.6829, abs=1e-4)
    assert body["exif_gps"]["lon"] == pytest.approx(-115.8575, abs=1e-4)


def test_an_exif_time_without_offset_is_only_a_camera_reading(client, crew):
    data = picture("JPEG", exif=make_exif(taken="2026:11:20 16:45:10"))

    body = post_media(client, crew.headers, crew.order.id, data, filename="p.jpg",
                      content_type="image/jpeg").json

    assert body["exif_taken_at"] is None  # the camera's time zone is unknown: no instant
    assert body["exif_camera_time"] == "2026-11-20T16:45:10"


def test_a_photo_without_exif_has_no_exif_facts(client, crew):
    body = post_media(client, crew.headers, crew.order.id, picture("PNG"),
                      filename="p.png", content_type="image/png").json

    assert body["exif_taken_at"] is None and body["exif_camera_time"] is None
    assert body["exif_gps"] is None


def test_the_client_location_is_kept_as_sent(client, crew):
    location = {"lat": 28.68, "lon": 115.86, "accuracy_m": 12.0}

    body = post_media(client, crew.headers, crew.order.id, picture(),
                      location=json.dumps(location)).json

    assert body["location"] == location


def test_a_generic_content_type_and_no_extension_are_accepted(client, crew):
    response = post_media(client, crew.headers, crew.order.id, picture("WEBP"),
                          filename="capture", content_type="application/octet-stream")

    assert response.status_code == 201
    assert response.json["content_type"] == "image/webp"


def test_a_retry_with_the_same_id_and_file_answers_200_with_the_same_record(client, crew):
    data = picture()
    media_id = str(uuid.uuid4())

    first = post_media(client, crew.headers, crew.order.id, data, media_id=media_id)
    again = post_media(client, crew.headers, crew.order.id, data, media_id=media_id)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json


def test_the_same_id_with_another_file_is_media_id_reused(client, crew):
    media_id = str(uuid.uuid4())
    post_media(client, crew.headers, crew.order.id, picture(size=(300, 300)), media_id=media_id)

    response = post_media(client, crew.headers, crew.order.id, picture(size=(301, 300)),
                          media_id=media_id)

    assert response.status_code == 409
    assert response.json["code"] == "media_id_reused"


def test_identical_files_under_two_ids_are_stored_once(client, crew, app):
    data = picture()
    store = app.extensions["fieldsync_media_store"]

    first = post_media(client, crew.headers, crew.order.id, data).json
    second = post_media(client, crew.headers, crew.order.id, data).json

    assert first["id"] != second["id"]
    assert first["sha256"] == second["sha256"]
    keys = [obj.key for obj in store.iter_objects("sha256/") if obj.key.endswith(sha256(data))]
    assert keys == [content_key(sha256(data))]


def test_staff_may_upload_for_any_order(client, factory, crew):
    headers = factory.staff_headers("dispatcher")

    response = post_media(client, headers, crew.order.id, picture())

    assert response.status_code == 201
    assert response.json["uploaded_by"]["device_id"] is None


@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
def test_a_signature_is_a_png_or_webp(client, crew, image_format):
    data = signature(image_format)

    response = post_media(client, crew.headers, crew.order.id, data, kind="signature",
                          filename=f"sig.{EXTENSIONS[image_format]}",
                          content_type=FORMATS[image_format])

    assert response.status_code == 201, response.json
    assert response.json["kind"] == "signature"
    assert response.json["thumbnail_content_type"] == "image/webp"


def test_a_naive_taken_at_is_a_validation_error(client, crew):
    response = post_media(client, crew.headers, crew.order.id, picture(),
                          taken_at="2026-11-21T08:15:30")

    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert "taken_at" in response.json["errors"]


def test_a_request_without_a_file_is_a_validation_error(client, crew):
    response = client.post(
        f"/api/v1/orders/{crew.order.id}/media", headers=crew.headers,
        data={"id": str(uuid.uuid4()), "kind": "photo", "sha256": "a" * 64,
              "taken_at": "2026-11-21T08:15:30Z"},
        content_type="multipart/form-data",
    )

    assert response.status_code == 422
    assert response.json["errors"] == {"file": ["Missing data for required field."]}


def test_a_json_body_is_refused(client, crew):
    response = client.post(f"/api/v1/orders/{crew.order.id}/media", headers=crew.headers,
                           json={"id": str(uuid.uuid4())})

    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
