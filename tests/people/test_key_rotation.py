"""Rotating the signing key: tokens of the previous key keep working until they expire."""

from __future__ import annotations

import jwt
import pytest

from server import create_app
from server.auth import tokens
from server.db import db
from tests import conftest

NEW_SECRET = "the-new-signing-key-after-rotation"


@pytest.fixture
def rotated_app(database_url, media_root):
    """The same database, served with a new key and the test key listed as an old one."""
    settings = conftest.test_settings(database_url, media_root)
    application = create_app({**settings, "secret_key": NEW_SECRET,
                              "old_secret_keys": [conftest.TEST_SECRET]})
    yield application
    with application.app_context():
        db.engine.dispose()


def test_tokens_signed_with_the_old_key_still_work_after_rotation(factory, rotated_app):
    access = factory.headers(factory.access_token(factory.user("admin")))
    _device, device_token = factory.device()
    client = rotated_app.test_client()
    assert client.get("/api/v1/teams", headers=access).status_code == 200
    refreshed = client.post("/api/v1/auth/refresh", headers=factory.headers(device_token))
    assert refreshed.status_code == 200
    fresh = refreshed.json["device_token"]
    assert jwt.get_unverified_header(fresh)["kid"] == tokens.key_id(NEW_SECRET)
    assert client.post("/api/v1/auth/refresh", headers=factory.headers(fresh)).status_code == 200


def test_new_logins_are_signed_with_the_new_key(factory, rotated_app):
    factory.user("agent", username="ana")
    response = rotated_app.test_client().post(
        "/api/v1/auth/login", json={"username": "ana", "password": "correct horse battery"})
    assert jwt.get_unverified_header(response.json["access_token"])["kid"] == tokens.key_id(
        NEW_SECRET)


def test_tokens_of_a_key_no_longer_listed_are_refused(app, client, factory, rotated_app):
    """The original app does not know the new key: its kid is unknown there."""
    factory.user("agent", username="ana")
    token = rotated_app.test_client().post(
        "/api/v1/auth/login",
        json={"username": "ana", "password": "correct horse battery"}).json["access_token"]
    response = client.get("/api/v1/teams", headers=factory.headers(token))
    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"
