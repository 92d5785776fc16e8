"""GET /orders/{id} with ETag and If-None-Match, crew device scope, PATCH with If-Match."""

from __future__ import annotations

import uuid

import pytest

from server.db import db
from server.domain.history import lock_order
from server.models.base import utcnow


def test_read_carries_the_version_as_etag_and_honours_if_none_match(client, create, dispatcher):
    order = create()
    url = f"/api/v1/orders/{order['id']}"
    response = client.get(url, headers=dispatcher)
    assert response.headers["ETag"] == '"1"'
    not_modified = client.get(url, headers={**dispatcher, "If-None-Match": '"1"'})
    assert not_modified.status_code == 304
    assert not_modified.headers["ETag"] == '"1"'
    assert not_modified.data == b""
    assert client.get(url, headers={**dispatcher, "If-None-Match": '"0", W/"1"'}).status_code == 304
    assert client.get(url, headers={**dispatcher, "If-None-Match": '"9"'}).status_code == 200


def test_unknown_order_is_404_problem(client, dispatcher):
    response = client.get("/api/v1/orders/5b0c5d2e-59a4-4a0e-8f59-1f1d3c8f4d11", headers=dispatcher)
    assert (response.status_code, response.json["code"]) == (404, "not_found")


def test_crew_device_reads_orders_of_its_team_with_the_crew_view(client, factory, app):
    team = factory.team()
    _device, token = factory.device(team=team)
    order = factory.order(team=team)
    response = client.get(f"/api/v1/orders/{order.id}", headers=factory.headers(token))
    assert response.status_code == 200
    assert response.json["customer"]["phone"] == "+86 791 555 0100"
    assert response.headers["ETag"] == f'"{order.version}"'
    with app.app_context(), db.transaction() as session:
        locked = lock_order(session, order.id)
        locked.status, locked.completed_at = "completed", utcnow()
    completed = client.get(f"/api/v1/orders/{order.id}", headers=factory.headers(token)).json
    assert completed["customer"]["phone"] is None


@pytest.mark.parametrize("situation", ["other_team", "unassigned", "cancelled", "closed"])
def test_crew_device_gets_404_outside_its_scope(client, factory, app, situation):
    team = factory.team()
    _device, token = factory.device(team=team)
    if situation == "other_team":
        order = factory.order(team=factory.team())
    elif situation == "unassigned":
        order = factory.order()
    else:
        order = factory.order(team=team)
        with app.app_context(), db.transaction() as session:
            lock_order(session, order.id).status = situation
    response = client.get(f"/api/v1/orders/{order.id}", headers=factory.headers(token))
    assert (response.status_code, response.json["code"]) == (404, "not_found")


def test_patch_without_if_match_is_428(client, create, dispatcher):
    order = create()
    response = client.patch(f"/api/v1/orders/{order['id']}", json={"title": "New"},
                            headers=dispatcher)
    assert (response.status_code, response.json["code"]) == (428, "precondition_required")


def test_patch_with_a_stale_if_match_is_412_with_the_current_copy(client, create, dispatcher):
    order = create()
    url = f"/api/v1/orders/{order['id']}"
    assert client.patch(url, json={"title": "First edit"},
                        headers={**dispatcher, "If-Match": '"1"'}).status_code == 200
    stale = client.patch(url, json={"title": "Second edit"},
                         headers={**dispatcher, "If-Match": '"1"'})
    assert (stale.status_code, stale.json["code"]) == (412, "version_conflict")
    assert stale.json["current"]["title"] == "First edit"
    assert stale.json["current"]["version"] == 2
    assert stale.headers["ETag"] == '"2"'
    assert client.get(url, headers=dispatcher).json["title"] == "First edit"


def test_patch_records_only_changed_fields(client, create, dispatcher):
    order = create()
    url = f"/api/v1/orders/{order['id']}"
    response = client.patch(url, headers={**dispatcher, "If-Match": '"1"'}, json={
        "title": order["title"],
        "priority": "urgent",
        "customer": {"phone": "+86 791 0000 0000"},
        "location": {"lat": 28.7, "lon": 115.9},
        "sla": {"complete_by": "2026-11-22T08:00:00Z"},
    })
    assert response.status_code == 200
    edited = response.json
    assert response.headers["ETag"] == '"2"'
    assert edited["priority"] == "urgent"
    assert edited["customer"] == {**order["customer"], "phone": "+86 791 0000 0000"}
    assert edited["sla"] == {**order["sla"], "complete_by": "2026-11-22T08:00:00.000Z"}
    events = client.get(f"{url}/audit", headers=dispatcher).json["items"]
    assert events[-1]["action"] == "edited"
    assert events[-1]["changes"] == {
        "priority": ["high", "urgent"],
        "customer_phone": ["+86 791 8888 1234", "+86 791 0000 0000"],
        "lat": [28.69, 28.7],
        "lon": [115.88, 115.9],
        "sla_complete_by": ["2026-11-21T08:00:00.000Z", "2026-11-22T08:00:00.000Z"],
    }


def test_a_no_op_patch_changes_nothing(client, create, dispatcher):
    order = create()
    url = f"/api/v1/orders/{order['id']}"
    response = client.patch(url, headers={**dispatcher, "If-Match": '"1"'},
                            json={"title": order["title"], "customer": order["customer"]})
    assert response.status_code == 200
    assert response.json["version"] == 1 and response.headers["ETag"] == '"1"'
    assert len(client.get(f"{url}/audit", headers=dispatcher).json["items"]) == 1


def test_patch_can_clear_the_location_and_refuses_bad_values(client, create, dispatcher):
    order = create()
    url = f"/api/v1/orders/{order['id']}"
    headers = {**dispatcher, "If-Match": '"1"'}
    bad = client.patch(url, headers=headers, json={"priority": "soon", "status": "closed"})
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"priority", "status"}
    cleared = client.patch(url, headers=headers, json={"location": None})
    assert cleared.json["location"] is None


@pytest.mark.parametrize("status", ["cancelled", "closed"])
def test_terminal_orders_cannot_be_edited(client, create, dispatcher, app, status):
    order = create()
    with app.app_context(), db.transaction() as session:
        lock_order(session, uuid.UUID(order["id"])).status = status
    response = client.patch(f"/api/v1/orders/{order['id']}", json={"title": "Late edit"},
                            headers={**dispatcher, "If-Match": '"1"'})
    assert (response.status_code, response.json["code"]) == (409, "invalid_transition")
