"""Devices: registration with a one-time code, enrollment, direct tokens, revocation, lists."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import update

from server.db import db
from server.models import Device, EnrollmentCode

DEVICES = "/api/v1/devices"
ENROLL = "/api/v1/devices/enroll"
REFRESH = "/api/v1/auth/refresh"


def test_registering_a_tablet_gives_a_short_typeable_code(register_device):
    device, code = register_device()
    assert len(code) == 9 and code[4] == "-"
    assert set(code.replace("-", "")) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert device["enrolled_at"] is None and device["revoked_at"] is None


def test_the_code_is_stored_only_as_a_hash(app, register_device):
    _device, code = register_device()
    with app.app_context():
        stored = [row.code_hash for row in db.session.query(EnrollmentCode)]
    assert len(stored) == 1 and len(stored[0]) == 64
    assert code.replace("-", "") not in stored[0].upper()


def test_enrollment_exchanges_the_code_for_a_working_device_token(client, factory,
                                                                  register_device):
    device, code = register_device()
    response = client.post(ENROLL, json={"enrollment_code": code,
                                          "device_info": {"app_version": "2.3.1", "os": "14"}})
    assert response.status_code == 200
    body = response.json
    assert body["device_id"] == device["id"]
    assert body["expires_at"].endswith("Z")
    assert client.post(REFRESH, headers=factory.headers(body["device_token"])).status_code == 200
    shown = client.get(f"{DEVICES}/{device['id']}", headers=factory.staff_headers("admin")).json
    assert shown["app_version"] == "2.3.1"
    assert shown["device_info"] == {"app_version": "2.3.1", "os": "14"}
    assert shown["enrolled_at"]


def test_the_code_is_case_insensitive_and_ignores_dashes(client, register_device):
    _device, code = register_device()
    typed = " " + code.replace("-", "").lower() + " "
    assert client.post(ENROLL, json={"enrollment_code": typed}).status_code == 200


def _refused(response) -> None:
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert "enrollment_code" in response.json["errors"]


def test_a_code_works_only_once(client, register_device):
    _device, code = register_device()
    assert client.post(ENROLL, json={"enrollment_code": code}).status_code == 200
    _refused(client.post(ENROLL, json={"enrollment_code": code}))


def test_an_unknown_code_is_refused(client):
    _refused(client.post(ENROLL, json={"enrollment_code": "ABCD-EFGH"}))


def test_an_expired_code_is_refused(app, client, register_device):
    _device, code = register_device()
    with app.app_context(), db.transaction() as session:
        session.execute(update(EnrollmentCode).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    _refused(client.post(ENROLL, json={"enrollment_code": code}))


def test_a_revoked_devices_code_is_refused(client, admin_headers, register_device):
    device, code = register_device()
    client.post(f"{DEVICES}/{device['id']}/revoke", headers=admin_headers)
    _refused(client.post(ENROLL, json={"enrollment_code": code}))


def test_concurrent_enrollments_with_one_code_yield_exactly_one_token(app, register_device):
    _device, code = register_device()
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def attempt() -> None:
        barrier.wait()
        statuses.append(app.test_client().post(ENROLL, json={"enrollment_code": code})
                        .status_code)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [422] * 5


@pytest.mark.parametrize("body, field", [
    ({"name": "T", "platform": "android"}, "user_id"),
    ({"name": "", "platform": "android", "user_id": "USER"}, "name"),
    ({"platform": "android", "user_id": "USER"}, "name"),
])
def test_invalid_registrations_name_the_field(client, factory, admin_headers, body, field):
    user = factory.user("crew")
    body = {k: (str(user.id) if v == "USER" else v) for k, v in body.items()}
    response = client.post(DEVICES, headers=admin_headers, json=body)
    assert response.status_code == 422
    assert field in response.json["errors"]


@pytest.mark.parametrize("kind, message", [
    ("dispatcher", "Devices belong to crew members only."),
    ("inactive crew", "The user is deactivated."),
    ("unknown", "No such user."),
])
def test_devices_belong_to_active_crew_members_only(client, factory, admin_headers, kind,
                                                    message):
    if kind == "unknown":
        user_id = "00000000-0000-0000-0000-000000000005"
    else:
        role = "dispatcher" if kind == "dispatcher" else "crew"
        user_id = str(factory.user(role, active=kind != "inactive crew").id)
    response = client.post(DEVICES, headers=admin_headers,
                           json={"name": "T", "platform": "android", "user_id": user_id})
    assert response.status_code == 422
    assert response.json["errors"] == {"user_id": [message]}


def test_an_admin_issues_a_device_token_directly(client, factory, admin_headers,
                                                 register_device):
    device, _code = register_device()
    response = client.post(f"{DEVICES}/{device['id']}/tokens", headers=admin_headers)
    assert response.status_code == 201
    assert response.json["jti"] and response.json["device_id"] == device["id"]
    refreshed = client.post(REFRESH, headers=factory.headers(response.json["device_token"]))
    assert refreshed.status_code == 200


def test_no_token_is_issued_for_a_revoked_device(client, admin_headers, register_device):
    device, _code = register_device()
    client.post(f"{DEVICES}/{device['id']}/revoke", headers=admin_headers)
    response = client.post(f"{DEVICES}/{device['id']}/tokens", headers=admin_headers)
    assert response.status_code == 409


def test_refresh_returns_a_new_token_and_keeps_the_old_one_valid(client, factory):
    device, token = factory.device()
    response = client.post(REFRESH, headers=factory.headers(token))
    assert response.status_code == 200
    fresh = response.json["device_token"]
    assert fresh != token and response.json["device_id"] == str(device.id)
    assert client.post(REFRESH, headers=factory.headers(fresh)).status_code == 200
    assert client.post(REFRESH, headers=factory.headers(token)).status_code == 200


def test_revocation_refuses_every_token_of_the_device(client, factory, admin_headers):
    device, token = factory.device()
    fresh = client.post(REFRESH, headers=factory.headers(token)).json["device_token"]
    response = client.post(f"{DEVICES}/{device.id}/revoke", headers=admin_headers)
    assert response.status_code == 200 and response.json["revoked_at"]
    for each in (token, fresh):
        refused = client.post(REFRESH, headers=factory.headers(each))
        assert refused.json["code"] == "device_revoked"


def test_a_device_shows_what_it_last_reported(app, client, factory, admin_headers):
    device, _token = factory.device()
    seen = dt.datetime(2026, 11, 21, 8, 15, 30, 125000, tzinfo=dt.UTC)
    with app.app_context(), db.transaction() as session:
        session.execute(update(Device).where(Device.id == device.id).values(
            last_sync_at=seen, last_location={"lat": 28.7, "lon": 115.9},
            last_location_at=seen, clock_skew_ms=-420, app_version="2.4.0"))
    shown = client.get(f"{DEVICES}/{device.id}", headers=admin_headers).json
    assert shown["last_sync_at"] == shown["last_location_at"] == "2026-11-21T08:15:30.125Z"
    assert shown["last_location"] == {"lat": 28.7, "lon": 115.9}
    assert shown["clock_skew_ms"] == -420 and shown["app_version"] == "2.4.0"
    assert shown["user_id"] == str(device.user_id)


def test_devices_filter_by_user_team_and_revocation(client, factory, admin_headers):
    team = factory.team()
    crew = factory.user("crew", team=team)
    mine, _ = factory.device(crew)
    other, _ = factory.device()
    client.post(f"{DEVICES}/{other.id}/revoke", headers=admin_headers)

    def ids(query: str) -> list[str]:
        response = client.get(f"{DEVICES}?{query}", headers=admin_headers)
        assert response.status_code == 200
        return [d["id"] for d in response.json["items"]]

    assert ids(f"user_id={crew.id}") == [str(mine.id)]
    assert ids(f"team_id={team.id}") == [str(mine.id)]
    assert ids("revoked=true") == [str(other.id)]
    assert ids("revoked=false") == [str(mine.id)]


def test_unknown_device_is_not_found(client, admin_headers):
    missing = "00000000-0000-0000-0000-000000000004"
    for method, path in (("GET", ""), ("POST", "/tokens"), ("POST", "/revoke")):
        response = client.open(f"{DEVICES}/{missing}{path}", method=method,
                               headers=admin_headers)
        assert response.status_code == 404
