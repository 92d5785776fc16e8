"""Every error is RFC 9457 problem+json with a stable code: no HTML, no stack trace, no SQL."""

from __future__ import annotations

import io

import pytest
from flask.views import MethodView

from schemas.base import Schema, UtcDateTime
from server import create_app
from server.api import Blueprint
from server.db import db
from tests import conftest

PROBLEM = "application/problem+json"


def _assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    body = response.json
    assert body["status"] == status and body["code"] == code
    assert body["type"].endswith(code) and body["title"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower() and "SELECT" not in text
    assert response.headers["X-Request-ID"]
    return body


class _When(Schema):
    at = UtcDateTime(required=True)


@pytest.fixture(scope="module")
def probe_app(database_url, media_root):
    """An app with two extra routes: one that fails unexpectedly and one that takes a time."""
    application = create_app(conftest.test_settings(database_url, media_root))
    probe = Blueprint("probe", __name__)

    @probe.route("/probe/boom")
    class Boom(MethodView):
        def get(self):
            raise RuntimeError("secret internals: SELECT password_hash FROM users")

    @probe.route("/probe/when", methods=["POST"])
    @probe.arguments(_When)
    @probe.response(200)
    def when(args):
        return {"at": args["at"]}

    api = next(iter(application.extensions["flask-smorest"]["blp_name_to_api"].values()))
    api.register_blueprint(probe, url_prefix="/api/v1")
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/nowhere", "/api/v1/teams/not-a-uuid"])
def test_unknown_routes_are_404_not_found(client, path):
    _assert_problem(client.get(path), 404, "not_found")


def test_a_wrong_method_is_405_with_allow(client):
    response = client.delete("/api/v1/teams")
    _assert_problem(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_malformed_json_is_400_malformed_json(client):
    response = client.post("/api/v1/auth/login", data='{"username": "a", ',
                           content_type="application/json")
    _assert_problem(response, 400, "malformed_json")


def test_a_json_body_over_2_mib_is_413_payload_too_large(client):
    body = '{"username": "' + "a" * (2 * 1024 * 1024) + '", "password": "x"}'
    response = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    _assert_problem(response, 413, "payload_too_large")


def test_a_json_body_just_under_the_limit_is_read(client):
    body = '{"username": "' + "a" * (2 * 1024 * 1024 - 100) + '", "password": "x"}'
    response = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    _assert_problem(response, 422, "validation_error")


def test_a_json_array_instead_of_an_object_is_a_validation_error(client):
    response = client.post("/api/v1/auth/login", json=["admin", "secret"])
    _assert_problem(response, 422, "validation_error")


def test_an_unexpected_exception_is_a_bare_500(probe_app):
    response = probe_app.test_client().get("/api/v1/probe/boom")
    body = _assert_problem(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert set(body) == {"type", "title", "status", "code", "detail"}


@pytest.mark.parametrize("value", ["2026-11-21T08:15:30", "2026-11-21 08:15:30", "yesterday"])
def test_naive_or_unreadable_datetimes_are_422_with_the_field_named(probe_app, value):
    response = probe_app.test_client().post("/api/v1/probe/when", json={"at": value})
    body = _assert_problem(response, 422, "validation_error")
    assert list(body["errors"]) == ["at"]


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "0999-12-31T23:59:59Z",
                                   "1000-01-01T00:30:00+01:00"])
def test_datetimes_before_the_year_1000_in_utc_are_422_not_500(probe_app, value):
    """Year 0 overflowed into a 500; years before 1000 would be written back without four
    digits, which is not RFC 3339."""
    response = probe_app.test_client().post("/api/v1/probe/when", json={"at": value})
    body = _assert_problem(response, 422, "validation_error")
    assert list(body["errors"]) == ["at"]


def test_offset_datetimes_are_normalised_to_utc_with_milliseconds(probe_app):
    response = probe_app.test_client().post("/api/v1/probe/when",
                                            json={"at": "2026-11-21T16:15:30.1256+08:00"})
    assert response.status_code == 200
    assert response.json == {"at": "2026-11-21T08:15:30.125Z"}


def test_validation_errors_name_each_bad_field(client, factory):
    response = client.post("/api/v1/users", headers=factory.staff_headers("admin"),
                           json={"username": "x", "role": "boss", "surprise": True})
    body = _assert_problem(response, 422, "validation_error")
    assert set(body["errors"]) == {"username", "password", "role", "surprise"}
    assert all(isinstance(messages, list) for messages in body["errors"].values())


def test_a_chunked_json_body_over_2_mib_is_413_not_truncated_json(client):
    body = b'{"username": "' + b"a" * (3 * 1024 * 1024) + b'", "password": "x"}'
    response = client.post("/api/v1/auth/login", input_stream=io.BytesIO(body),
                           headers={"Content-Type": "application/json",
                                    "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    _assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("method, path, body, field", [
    ("post", "/api/v1/auth/login", {"username": "ad\x00min", "password": "x"}, "username"),
    ("post", "/api/v1/teams", {"name": "North", "base_location": {"lat": 28.7, "lon": 115.9},
                               "skills": ["electrical\x00"]}, "skills"),
    ("patch", "/api/v1/teams/1b4e28ba-2fa1-41d2-883f-0016d3cca427", {"na\x00me": "x"},
     "na\x00me"),
    ("get", "/api/v1/orders?q=a%00b", None, "q"),
])
def test_a_nul_character_anywhere_is_422_on_every_database(client, factory, method, path, body,
                                                            field):
    """PostgreSQL stores no U+0000 in text or JSON: it was a 500 there (and stored on SQLite)."""
    response = getattr(client, method)(path, json=body, headers=factory.staff_headers("admin"))
    errors = _assert_problem(response, 422, "validation_error")["errors"]
    assert errors[field] == ["Must not contain the NUL character (U+0000)."]
    assert client.get("/api/v1/teams", headers=factory.staff_headers("admin")).json["items"] == []


def test_a_mutation_with_a_nul_character_is_rejected_alone_and_kept(client, factory):
    """PostgreSQL stores no U+0000: the push was a 503, and every mutation in it was lost."""
    order = factory.order(team=(team := factory.team()))
    device, token = factory.device(team=team)

    def note(mutation_id: str, text: str) -> dict:
        return {"id": mutation_id, "order_id": str(order.id), "type": "add_note",
                "hlc": f"1764000000000-0001-{device.id}", "at": "2026-11-21T08:15:30.125Z",
                "data": {"text": text}}

    response = client.post("/api/v1/sync/push", headers=factory.headers(token), json={
        "mutations": [note("0b3c6bb1-7d8f-4a4e-9d35-3c2f0f9b6a11", "meter\x00 reading"),
                      note("5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "meter read")]})

    assert response.status_code == 200
    rejected, applied = response.json["results"]
    assert rejected["status"] == "rejected" and rejected["code"] == "validation_error"
    assert applied["status"] == "applied"
    kept = client.get("/api/v1/sync/rejections", headers=factory.staff_headers()).json["items"]
    assert [item["payload"]["data"]["text"] for item in kept] == ["meter\ufffd reading"]


def test_a_body_nested_deeper_than_the_decoder_recurses_is_400_malformed_json(client, factory):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/v1/orders", data=body, content_type="application/json",
                           headers=factory.staff_headers("dispatcher"))
    _assert_problem(response, 400, "malformed_json")
