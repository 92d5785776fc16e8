"""Teams: create, read, list, edit; unique names; field validation."""

from __future__ import annotations

import pytest

from server.domain import people

TEAMS = "/api/v1/teams"
NORTH = {"name": "North crew", "base_location": {"lat": 28.7, "lon": 115.9},
         "skills": ["electrical", "meter"]}


def test_admin_creates_a_team_and_reads_it(client, admin_headers):
    created = client.post(TEAMS, headers=admin_headers, json=NORTH)
    assert created.status_code == 201
    team = created.json
    assert team["name"] == "North crew"
    assert team["base_location"] == {"lat": 28.7, "lon": 115.9}
    assert team["skills"] == ["electrical", "meter"]
    assert team["active"] is True
    assert team["created_at"].endswith("Z")
    read = client.get(f"{TEAMS}/{team['id']}", headers=admin_headers)
    assert read.status_code == 200
    assert read.json == team


@pytest.mark.parametrize("role", ["dispatcher", "agent"])
def test_other_staff_may_not_read_teams(client, factory, role):
    """People are admin only (PROTOCOL.md section 2); dispatch gets team names from suggestions."""
    team = factory.team(name="North crew")
    headers = factory.staff_headers(role)
    for path in (TEAMS, f"{TEAMS}/{team.id}"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert response.json["code"] == "forbidden"


def test_duplicate_team_name_is_a_conflict(client, admin_headers):
    assert client.post(TEAMS, headers=admin_headers, json=NORTH).status_code == 201
    response = client.post(TEAMS, headers=admin_headers, json=NORTH)
    assert response.status_code == 409
    assert response.json["code"] == "conflict"
    assert "North crew" in response.json["detail"]


def test_patch_changes_only_the_fields_sent(client, admin_headers):
    team = client.post(TEAMS, headers=admin_headers, json=NORTH).json
    response = client.patch(f"{TEAMS}/{team['id']}", headers=admin_headers,
                            json={"skills": ["gas"], "active": False})
    assert response.status_code == 200
    assert response.json["skills"] == ["gas"]
    assert response.json["active"] is False
    assert response.json["name"] == team["name"]
    assert response.json["base_location"] == team["base_location"]


def test_renaming_a_team_to_a_taken_name_is_a_conflict(client, factory, admin_headers):
    factory.team(name="South crew")
    team = client.post(TEAMS, headers=admin_headers, json=NORTH).json
    response = client.patch(f"{TEAMS}/{team['id']}", headers=admin_headers,
                            json={"name": "South crew"})
    assert response.status_code == 409
    assert client.get(f"{TEAMS}/{team['id']}", headers=admin_headers).json["name"] == "North crew"


def test_unknown_team_is_not_found(client, admin_headers):
    response = client.get(f"{TEAMS}/00000000-0000-0000-0000-000000000001", headers=admin_headers)
    assert response.status_code == 404
    assert response.json["code"] == "not_found"


@pytest.mark.parametrize("body, fields", [
    ({}, {"name", "base_location"}),
    ({**NORTH, "base_location": {"lat": 91, "lon": 0}}, {"base_location"}),
    ({**NORTH, "base_location": {"lat": 1}}, {"base_location"}),
    ({**NORTH, "skills": "electrical"}, {"skills"}),
    ({**NORTH, "name": ""}, {"name"}),
    ({**NORTH, "colour": "red"}, {"colour"}),
])
def test_invalid_team_bodies_name_the_bad_fields(client, admin_headers, body, fields):
    response = client.post(TEAMS, headers=admin_headers, json=body)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert set(response.json["errors"]) == fields


def test_teams_filter_by_active(client, factory, admin_headers):
    factory.team(name="Alpha")
    beta = client.post(TEAMS, headers=admin_headers, json={**NORTH, "name": "Beta"}).json
    client.patch(f"{TEAMS}/{beta['id']}", headers=admin_headers, json={"active": False})
    names = [t["name"] for t in client.get(f"{TEAMS}?active=false", headers=admin_headers)
             .json["items"]]
    assert names == ["Beta"]


def test_a_duplicate_name_that_slips_past_the_check_is_still_a_conflict(
    client, admin_headers, monkeypatch
):
    """Two admins creating the same team at once: the unique constraint decides, cleanly."""
    assert client.post(TEAMS, headers=admin_headers, json=NORTH).status_code == 201
    monkeypatch.setattr(people, "_check_team_name_free", lambda *args, **kwargs: None)
    response = client.post(TEAMS, headers=admin_headers, json=NORTH)
    assert response.status_code == 409
    assert response.json["code"] == "conflict"
    assert "North crew" in response.json["detail"]
    assert len(client.get(TEAMS, headers=admin_headers).json["items"]) == 1
