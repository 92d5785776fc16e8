"""Cursor pagination of the people and device lists (PROTOCOL.md section 1)."""

from __future__ import annotations

import base64

import pytest


def _walk(client, headers, path: str, limit: int) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    url = f"{path}?limit={limit}"
    while True:
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        pages += 1
        assert len(response.json["items"]) <= limit
        seen += [item["id"] for item in response.json["items"]]
        cursor = response.json["next_cursor"]
        if cursor is None:
            return seen, pages
        url = f"{path}?limit={limit}&cursor={cursor}"


def test_teams_come_page_by_page_each_exactly_once(client, factory, admin_headers):
    ids = [str(factory.team().id) for _ in range(7)]
    seen, pages = _walk(client, admin_headers, "/api/v1/teams", 3)
    assert seen == ids
    assert pages == 3


def test_a_page_that_ends_the_list_has_no_next_cursor(client, factory, admin_headers):
    for _ in range(4):
        factory.team()
    first = client.get("/api/v1/teams?limit=2", headers=admin_headers).json
    last = client.get(f"/api/v1/teams?limit=2&cursor={first['next_cursor']}",
                      headers=admin_headers).json
    assert len(last["items"]) == 2
    assert last["next_cursor"] is None


def test_rows_added_while_paging_are_seen_once_at_the_end(client, factory, admin_headers):
    before = [str(factory.team().id) for _ in range(3)]
    first = client.get("/api/v1/teams?limit=2", headers=admin_headers).json
    added = str(factory.team().id)
    rest = client.get(f"/api/v1/teams?limit=10&cursor={first['next_cursor']}",
                      headers=admin_headers).json
    assert [t["id"] for t in first["items"] + rest["items"]] == before + [added]


def test_users_and_devices_paginate_too(client, factory, admin_headers):
    crew = factory.user("crew")
    device_ids = [str(factory.device(crew)[0].id) for _ in range(3)]
    seen, _ = _walk(client, admin_headers, "/api/v1/devices", 2)
    assert seen == device_ids
    users, _ = _walk(client, admin_headers, "/api/v1/users", 1)
    assert len(users) == len(set(users)) == 2  # the crew member and the admin


def test_the_default_page_size_is_50(client, factory, admin_headers):
    for _ in range(51):
        factory.team()
    page = client.get("/api/v1/teams", headers=admin_headers).json
    assert len(page["items"]) == 50
    assert page["next_cursor"]


@pytest.mark.parametrize("cursor", [
    "garbage!!",
    "bm90IGEgY3Vyc29y",  # "not a cursor"
    base64.urlsafe_b64encode(b"2026-01-01T00:00:00|not-a-uuid").decode(),
    base64.urlsafe_b64encode(b"2026-01-01T00:00:00|00000000-0000-0000-0000-000000000001").decode(),
])
@pytest.mark.parametrize("path", ["/api/v1/teams", "/api/v1/users", "/api/v1/devices"])
def test_a_malformed_cursor_is_invalid_cursor(client, admin_headers, path, cursor):
    response = client.get(f"{path}?cursor={cursor}", headers=admin_headers)
    assert response.status_code == 400
    assert response.json["code"] == "invalid_cursor"


@pytest.mark.parametrize("limit", ["0", "501", "-1", "many"])
def test_limit_outside_1_to_500_is_a_validation_error(client, admin_headers, limit):
    response = client.get(f"/api/v1/teams?limit={limit}", headers=admin_headers)
    assert response.status_code == 422
    assert "limit" in response.json["errors"]
