"""Role checks for every staff endpoint of people, auth and devices: allowed roles pass, the
rest get 403 `forbidden` before anything else is looked at."""

from __future__ import annotations

import uuid

import pytest

ROLES = ("admin", "dispatcher", "agent", "crew")
ADMIN = {"admin"}
ANY_ID = uuid.UUID(int=7)

#: (method, path, allowed roles); bodies are left out: the role check comes before validation.
STAFF_ENDPOINTS = [
    ("GET", "/api/v1/teams", ADMIN),
    ("POST", "/api/v1/teams", ADMIN),
    ("GET", f"/api/v1/teams/{ANY_ID}", ADMIN),
    ("PATCH", f"/api/v1/teams/{ANY_ID}", ADMIN),
    ("GET", "/api/v1/users", ADMIN),
    ("POST", "/api/v1/users", ADMIN),
    ("GET", f"/api/v1/users/{ANY_ID}", ADMIN),
    ("POST", f"/api/v1/users/{ANY_ID}/deactivate", ADMIN),
    ("GET", "/api/v1/devices", ADMIN),
    ("POST", "/api/v1/devices", ADMIN),
    ("GET", f"/api/v1/devices/{ANY_ID}", ADMIN),
    ("POST", f"/api/v1/devices/{ANY_ID}/tokens", ADMIN),
    ("POST", f"/api/v1/devices/{ANY_ID}/revoke", ADMIN),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, path, allowed", STAFF_ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in STAFF_ENDPOINTS])
def test_staff_endpoint_admits_only_its_roles(client, factory, role, method, path, allowed):
    response = client.open(path, method=method, headers=factory.staff_headers(role), json={})
    if role in allowed:
        assert response.status_code in (200, 404, 422), response.json
    else:
        assert response.status_code == 403
        assert response.json["code"] == "forbidden"


@pytest.mark.parametrize("method, path, allowed", STAFF_ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in STAFF_ENDPOINTS])
def test_staff_endpoint_refuses_device_tokens(client, factory, method, path, allowed):
    _device, token = factory.device()
    response = client.open(path, method=method, headers=factory.headers(token), json={})
    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"


@pytest.mark.parametrize("method, path, allowed", STAFF_ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in STAFF_ENDPOINTS])
def test_staff_endpoint_needs_a_token(client, method, path, allowed):
    response = client.open(path, method=method, json={})
    assert response.status_code == 401
    assert response.json["code"] == "token_missing"


@pytest.mark.parametrize("method, path", [("POST", "/api/v1/auth/login"),
                                          ("POST", "/api/v1/devices/enroll")])
def test_login_and_enrollment_need_no_token(client, method, path):
    response = client.open(path, method=method, json={})
    assert response.status_code == 422
