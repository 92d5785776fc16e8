"""Every way a bearer token is refused (PROTOCOL.md section 2), each with its precise code."""

from __future__ import annotations

import base64
import json
import time
import warnings
from collections.abc import Callable

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy import update

from server.auth import tokens
from server.db import db
from server.models import DeviceToken
from tests.conftest import TEST_SECRET

STAFF_ENDPOINT = "/api/v1/orders"         # GET, any staff role
DEVICE_ENDPOINT = "/api/v1/auth/refresh"  # POST, device tokens only
OTHER_SECRET = "another-secret-that-is-not-ours"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(subject, typ: str, did=None, **overrides) -> dict:
    now = int(time.time())
    claims = {"iss": "fieldsync", "sub": str(subject), "jti": "f" * 32, "iat": now,
              "exp": now + 600, "typ": typ}
    if did is not None:
        claims["did"] = str(did)
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict, *, secret: str = TEST_SECRET, alg: str = "HS256",
          kid: str | None = None) -> str:
    kid = kid if kid is not None else tokens.key_id(TEST_SECRET)
    with warnings.catch_warnings():  # our 32-byte key is short for HS512: that is the point
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=alg, headers={"kid": kid})


def _unsigned(claims: dict, alg: str) -> str:
    header = {"alg": alg, "typ": "JWT", "kid": tokens.key_id(TEST_SECRET)}
    signature = "" if alg == "none" else _b64({"not": "a signature"})
    return f"{_b64(header)}.{_b64(claims)}.{signature}"


#: name -> (build the token from valid claims, expected code)
FORGERIES: dict[str, tuple[Callable[[dict], str], str]] = {
    "alg none": (lambda c: _unsigned(c, "none"), "token_invalid"),
    "HS512": (lambda c: _sign(c, alg="HS512"), "token_invalid"),
    "RS256 header": (lambda c: _unsigned(c, "RS256"), "token_invalid"),
    "wrong key, our kid": (lambda c: _sign(c, secret=OTHER_SECRET), "token_invalid"),
    "unknown kid": (lambda c: _sign(c, secret=OTHER_SECRET, kid=tokens.key_id(OTHER_SECRET)),
                    "token_invalid"),
    "no kid": (lambda c: jwt.encode(c, TEST_SECRET, algorithm="HS256"), "token_invalid"),
    "expired": (lambda c: _sign({**c, "iat": c["iat"] - 7200, "exp": c["iat"] - 60}),
                "token_expired"),
    "wrong issuer": (lambda c: _sign({**c, "iss": "someone-else"}), "token_invalid"),
    "no jti": (lambda c: _sign({k: v for k, v in c.items() if k != "jti"}), "token_invalid"),
    "tampered payload": (lambda c: _sign(c).rsplit(".", 2)[0][:-2] + "xx." + _sign(c).rsplit(
        ".", 1)[1], "token_invalid"),
}


@pytest.mark.parametrize("forgery", FORGERIES, ids=str)
def test_forged_access_tokens_are_refused(client, factory, forgery):
    build, code = FORGERIES[forgery]
    user = factory.user("admin")
    assert client.get(STAFF_ENDPOINT, headers=factory.headers(
        _sign(_claims(user.id, "access")))).status_code == 200
    response = client.get(STAFF_ENDPOINT,
                          headers=factory.headers(build(_claims(user.id, "access"))))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code


@pytest.mark.parametrize("forgery", FORGERIES, ids=str)
def test_forged_device_tokens_are_refused(client, factory, forgery):
    build, code = FORGERIES[forgery]
    device, _token = factory.device()
    response = client.post(DEVICE_ENDPOINT, headers=factory.headers(
        build(_claims(device.user_id, "device", did=device.id))))
    assert response.status_code == 401
    assert response.json["code"] == code


@pytest.mark.parametrize("header, code", [
    (None, "token_missing"),
    ("", "token_missing"),
    ("Bearer", "token_invalid"),
    ("Bearer ", "token_invalid"),
    ("Basic YWRtaW46c2VjcmV0", "token_invalid"),
    ("Bearer not-a-jwt", "token_invalid"),
    ("Bearer a.b.c", "token_invalid"),
])
@pytest.mark.parametrize("method, path", [("GET", STAFF_ENDPOINT), ("POST", DEVICE_ENDPOINT)])
def test_missing_and_malformed_authorization_is_refused(client, method, path, header, code):
    headers = {} if header is None else {"Authorization": header}
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_access_token_is_refused_on_a_device_endpoint(client, factory):
    response = client.post(DEVICE_ENDPOINT, headers=factory.staff_headers("admin"))
    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"


def test_a_device_token_is_refused_on_a_staff_endpoint(client, factory):
    _device, token = factory.device()
    response = client.get(STAFF_ENDPOINT, headers=factory.headers(token))
    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"


def test_a_device_token_for_another_users_device_is_refused(client, factory):
    device, _token = factory.device()
    other = factory.user("crew")
    forged = _sign(_claims(other.id, "device", did=device.id))
    response = client.post(DEVICE_ENDPOINT, headers=factory.headers(forged))
    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"


def test_a_validly_signed_device_token_that_was_never_issued_is_refused(client, factory):
    device, _token = factory.device()
    forged = _sign(_claims(device.user_id, "device", did=device.id, jti="0" * 32))
    response = client.post(DEVICE_ENDPOINT, headers=factory.headers(forged))
    assert response.status_code == 401
    assert response.json["code"] == "token_revoked"


def test_a_revoked_token_is_refused_while_the_devices_other_tokens_work(app, client, factory):
    device, token = factory.device()
    fresh = client.post(DEVICE_ENDPOINT, headers=factory.headers(token)).json["device_token"]
    with app.app_context(), db.transaction() as session:
        revoked_jti = jwt.decode(token, options={"verify_signature": False})["jti"]
        session.execute(update(DeviceToken).where(DeviceToken.jti == revoked_jti)
                        .values(revoked_at=tokens.dt.datetime.now(tokens.dt.UTC)))
    response = client.post(DEVICE_ENDPOINT, headers=factory.headers(token))
    assert response.status_code == 401
    assert response.json["code"] == "token_revoked"
    assert client.post(DEVICE_ENDPOINT, headers=factory.headers(fresh)).status_code == 200


def test_a_revoked_device_is_refused_on_its_next_request(client, factory, admin_headers):
    device, token = factory.device()
    assert client.post(DEVICE_ENDPOINT, headers=factory.headers(token)).status_code == 200
    revoke = client.post(f"/api/v1/devices/{device.id}/revoke", headers=admin_headers)
    assert revoke.status_code == 200
    response = client.post(DEVICE_ENDPOINT, headers=factory.headers(token))
    assert response.status_code == 401
    assert response.json["code"] == "device_revoked"


def test_deactivating_a_user_refuses_their_access_token_on_the_next_request(
    client, factory, admin_headers
):
    user = factory.user("dispatcher")
    headers = factory.headers(factory.access_token(user))
    assert client.get(STAFF_ENDPOINT, headers=headers).status_code == 200
    assert client.post(f"/api/v1/users/{user.id}/deactivate",
                       headers=admin_headers).status_code == 200
    response = client.get(STAFF_ENDPOINT, headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == "user_inactive"


def test_deactivating_a_crew_member_refuses_every_token_of_their_devices(
    client, factory, admin_headers
):
    crew = factory.user("crew")
    tokens_of_crew = [factory.device(crew)[1], factory.device(crew)[1]]
    assert client.post(f"/api/v1/users/{crew.id}/deactivate",
                       headers=admin_headers).status_code == 200
    for token in tokens_of_crew:
        response = client.post(DEVICE_ENDPOINT, headers=factory.headers(token))
        assert response.status_code == 401
        assert response.json["code"] == "user_inactive"
