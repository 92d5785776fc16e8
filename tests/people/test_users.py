"""Users: every role created by an admin; crew need a team; passwords never come back."""

from __future__ import annotations

import uuid

import pytest

from server.db import db
from server.models import User

USERS = "/api/v1/users"


def _user(role: str = "dispatcher", **fields) -> dict:
    return {"username": f"new-{role}", "password": "long enough", "role": role,
            "display_name": "New Person", "phone": "+86 791 555 0199", **fields}


@pytest.mark.parametrize("role", ["admin", "dispatcher", "agent"])
def test_admin_creates_staff_who_can_log_in(client, admin_headers, role):
    response = client.post(USERS, headers=admin_headers, json=_user(role))
    assert response.status_code == 201
    body = response.json
    assert body["role"] == role and body["team_id"] is None and body["active"] is True
    assert not {"password", "password_hash"} & set(body)
    login = client.post("/api/v1/auth/login",
                        json={"username": f"new-{role}", "password": "long enough"})
    assert login.status_code == 200
    assert login.json["user"]["id"] == body["id"]


def test_a_crew_member_is_created_in_a_team(client, factory, admin_headers):
    team = factory.team()
    response = client.post(USERS, headers=admin_headers,
                           json=_user("crew", team_id=str(team.id)))
    assert response.status_code == 201
    assert response.json["team_id"] == str(team.id)


def test_the_password_is_stored_as_a_salted_hash(app, client, admin_headers):
    first = client.post(USERS, headers=admin_headers, json=_user("agent")).json
    second = client.post(USERS, headers=admin_headers,
                         json=_user("agent", username="other-agent")).json
    with app.app_context():
        hashes = [db.session.get(User, uuid.UUID(user["id"])).password_hash
                  for user in (first, second)]
    assert all("long enough" not in stored for stored in hashes)
    assert hashes[0] != hashes[1]


@pytest.mark.parametrize("fields, field, message", [
    ({"role": "crew"}, "team_id", "Crew members need a team."),
    ({"role": "crew", "team_id": "00000000-0000-0000-0000-000000000009"}, "team_id",
     "No such team."),
    ({"role": "dispatcher", "team_id": "TEAM"}, "team_id",
     "A dispatcher does not belong to a team; leave it empty."),
    ({"password": "short"}, "password", "Length must be between 8 and 1024."),
    ({"role": "boss"}, "role", None),
    ({"username": "has space"}, "username", "Use lower-case letters, digits and . _ @ - only."),
    ({"username": None}, "username", None),
    ({"team_id": "not-a-uuid"}, "team_id", "Not a valid UUID."),
])
def test_invalid_users_are_refused_with_field_messages(
    client, factory, admin_headers, fields, field, message
):
    if fields.get("team_id") == "TEAM":
        fields = {**fields, "team_id": str(factory.team().id)}
    response = client.post(USERS, headers=admin_headers, json=_user(**{"role": "dispatcher",
                                                                       **fields}))
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]
    if message:
        assert message in response.json["errors"][field]


def test_a_crew_member_cannot_join_an_inactive_team(client, factory, admin_headers):
    team = factory.team()
    client.patch(f"/api/v1/teams/{team.id}", headers=admin_headers, json={"active": False})
    response = client.post(USERS, headers=admin_headers, json=_user("crew", team_id=str(team.id)))
    assert response.status_code == 422
    assert response.json["errors"] == {"team_id": ["The team is inactive."]}


def test_usernames_are_unique_whatever_the_case(client, admin_headers):
    assert client.post(USERS, headers=admin_headers, json=_user()).status_code == 201
    response = client.post(USERS, headers=admin_headers,
                           json=_user(username="NEW-Dispatcher"))
    assert response.status_code == 409
    assert response.json["code"] == "conflict"


def test_deactivation_is_shown_and_idempotent(client, factory, admin_headers):
    user = factory.user("agent")
    first = client.post(f"{USERS}/{user.id}/deactivate", headers=admin_headers)
    second = client.post(f"{USERS}/{user.id}/deactivate", headers=admin_headers)
    assert first.status_code == second.status_code == 200
    assert first.json["active"] is False
    assert first.json["deactivated_at"] == second.json["deactivated_at"]
    read = client.get(f"{USERS}/{user.id}", headers=admin_headers).json
    assert read["active"] is False


def test_users_filter_by_role_team_and_active(client, factory, admin_headers):
    team = factory.team()
    crew = factory.user("crew", team=team)
    factory.user("crew")
    factory.user("agent", active=False)

    def ids(query: str) -> list[str]:
        response = client.get(f"{USERS}?{query}", headers=admin_headers)
        assert response.status_code == 200
        return [u["id"] for u in response.json["items"]]

    assert ids(f"team_id={team.id}") == [str(crew.id)]
    assert len(ids("role=crew")) == 2
    assert [u for u in ids("active=false")] and len(ids("active=false")) == 1
    assert client.get(f"{USERS}?role=boss", headers=admin_headers).status_code == 422


def test_unknown_user_is_not_found(client, admin_headers):
    for path in ("", "/deactivate"):
        method = "GET" if not path else "POST"
        response = client.open(f"{USERS}/00000000-0000-0000-0000-000000000003{path}",
                               method=method, headers=admin_headers)
        assert response.status_code == 404
