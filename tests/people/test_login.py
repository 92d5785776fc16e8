"""Login: a staff access token for the right password, one identical 401 for everything else."""

from __future__ import annotations

import pytest

from tests.factories import DEFAULT_PASSWORD

LOGIN = "/api/v1/auth/login"


def test_login_returns_a_bearer_access_token_that_works(client, factory):
    user = factory.user("dispatcher", username="dora")
    response = client.post(LOGIN, json={"username": "dora", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["user"]["id"] == str(user.id)
    assert body["user"]["role"] == "dispatcher"
    assert "password" not in body["user"] and "password_hash" not in body["user"]
    orders = client.get("/api/v1/orders",
                        headers={"Authorization": f"Bearer {body['access_token']}"})
    assert orders.status_code == 200


def test_username_is_case_insensitive(client, factory):
    factory.user("admin", username="root")
    response = client.post(LOGIN, json={"username": "ROOT", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200


def _failed_login(client, username: str, password: str):
    response = client.post(LOGIN, json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    return response


def test_unknown_user_and_wrong_password_get_the_same_answer(client, factory):
    factory.user("dispatcher", username="dora")
    unknown = _failed_login(client, "nobody", DEFAULT_PASSWORD)
    wrong = _failed_login(client, "dora", "not the password")
    assert unknown.json == wrong.json
    assert unknown.json["code"] == "invalid_credentials"
    assert unknown.headers["WWW-Authenticate"] == wrong.headers["WWW-Authenticate"]


def test_deactivated_user_gets_the_same_answer_as_a_wrong_password(client, factory):
    factory.user("agent", username="gone", active=False)
    factory.user("agent", username="here")
    deactivated = _failed_login(client, "gone", DEFAULT_PASSWORD)
    wrong = _failed_login(client, "here", "not the password")
    assert deactivated.json == wrong.json


@pytest.mark.parametrize("body, field", [
    ({"password": "x"}, "username"),
    ({"username": "x"}, "password"),
    ({"username": "x", "password": "y", "extra": 1}, "extra"),
])
def test_login_validates_its_body(client, body, field):
    response = client.post(LOGIN, json=body)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]
