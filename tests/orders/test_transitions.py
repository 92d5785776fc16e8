"""POST /orders/{id}/assign, /cancel and /reopen through the API, allowed and refused."""

from __future__ import annotations

import uuid

import pytest

from server.db import db
from server.domain.history import lock_order
from server.models.base import utcnow


def _set_status(app, order_id, status: str) -> None:
    with app.app_context(), db.transaction() as session:
        order = lock_order(session, uuid.UUID(str(order_id)))
        order.status = status
        if status in ("completed", "closed"):
            order.completed_at = utcnow()
            order.completion = {"resolution_code": "replaced_fuse"}


def test_assign_then_reassign_moves_the_order_between_teams(client, create, dispatcher, factory):
    first, second = factory.team(), factory.team()
    crew = factory.user("crew", team=first)
    order = create()
    url = f"/api/v1/orders/{order['id']}/assign"
    assigned = client.post(url, json={"team_id": str(first.id), "user_ids": [str(crew.id)]},
                           headers=dispatcher)
    assert assigned.status_code == 200
    assert assigned.json["status"] == "assigned"
    assert assigned.json["assignment"] == {"team_id": str(first.id), "user_ids": [str(crew.id)]}
    assert assigned.headers["ETag"] == '"2"'
    moved = client.post(url, json={"team_id": str(second.id)}, headers=dispatcher).json
    assert moved["assignment"] == {"team_id": str(second.id), "user_ids": []}
    _device, token = factory.device(crew)
    gone = client.get(f"/api/v1/orders/{order['id']}", headers=factory.headers(token))
    assert gone.status_code == 404


def test_assign_refuses_unknown_teams_and_crew_of_other_teams(client, create, dispatcher, factory):
    team = factory.team()
    stranger = factory.user("crew")
    order = create()
    url = f"/api/v1/orders/{order['id']}/assign"
    unknown = client.post(url, json={"team_id": str(uuid.uuid4())}, headers=dispatcher)
    assert unknown.status_code == 422 and "team_id" in unknown.json["errors"]
    foreign = client.post(url, json={"team_id": str(team.id), "user_ids": [str(stranger.id)]},
                          headers=dispatcher)
    assert foreign.status_code == 422 and "user_ids" in foreign.json["errors"]
    missing = client.post(url, json={"user_ids": []}, headers=dispatcher)
    assert missing.status_code == 422 and "team_id" in missing.json["errors"]


def test_assign_honours_if_match_when_sent(client, create, dispatcher, factory):
    team = factory.team()
    order = create()
    url = f"/api/v1/orders/{order['id']}/assign"
    stale = client.post(url, json={"team_id": str(team.id)},
                        headers={**dispatcher, "If-Match": '"7"'})
    assert stale.status_code == 412 and stale.json["current"]["version"] == 1
    fresh = client.post(url, json={"team_id": str(team.id)},
                        headers={**dispatcher, "If-Match": '"1"'})
    assert fresh.status_code == 200


@pytest.mark.parametrize("status", ["completed", "closed", "cancelled"])
def test_finished_orders_cannot_be_assigned(client, create, dispatcher, factory, app, status):
    team = factory.team()
    order = create()
    _set_status(app, order["id"], status)
    response = client.post(f"/api/v1/orders/{order['id']}/assign",
                           json={"team_id": str(team.id)}, headers=dispatcher)
    assert (response.status_code, response.json["code"]) == (409, "invalid_transition")


def test_cancel_records_the_reason(client, create, dispatcher):
    order = create()
    response = client.post(f"/api/v1/orders/{order['id']}/cancel",
                           json={"reason": "Duplicate of an earlier call"}, headers=dispatcher)
    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert response.json["cancel_reason"] == "Duplicate of an earlier call"
    assert response.headers["ETag"] == '"2"'
    events = client.get(f"/api/v1/orders/{order['id']}/audit", headers=dispatcher).json["items"]
    assert events[-1]["action"] == "cancelled"
    assert events[-1]["details"] == {"reason": "Duplicate of an earlier call"}


@pytest.mark.parametrize("status", ["completed", "closed", "cancelled"])
def test_finished_orders_cannot_be_cancelled(client, create, dispatcher, app, status):
    order = create()
    _set_status(app, order["id"], status)
    response = client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "x"},
                           headers=dispatcher)
    assert (response.status_code, response.json["code"]) == (409, "invalid_transition")


def test_cancel_and_reopen_need_a_reason(client, create, dispatcher):
    order = create()
    for action in ("cancel", "reopen"):
        response = client.post(f"/api/v1/orders/{order['id']}/{action}", json={},
                               headers=dispatcher)
        assert response.status_code == 422 and "reason" in response.json["errors"]


@pytest.mark.parametrize("status", ["completed", "closed"])
def test_reopen_sends_the_order_back_to_its_team_with_history(client, dispatcher, factory, app,
                                                              status):
    team = factory.team()
    crew = factory.user("crew", team=team)
    _device, token = factory.device(crew)
    order = factory.order(team=team, user_ids=[crew.id])
    _set_status(app, order.id, status)
    response = client.post(f"/api/v1/orders/{order.id}/reopen",
                           json={"reason": "Lights still flicker"}, headers=dispatcher)
    assert response.status_code == 200
    reopened = response.json
    assert reopened["status"] == "assigned"
    assert reopened["assignment"] == {"team_id": str(team.id), "user_ids": [str(crew.id)]}
    assert reopened["completion"] is None and reopened["reopen_count"] == 1
    crew_copy = client.get(f"/api/v1/orders/{order.id}", headers=factory.headers(token))
    assert crew_copy.status_code == 200 and crew_copy.json["status"] == "assigned"
    trail = client.get(f"/api/v1/orders/{order.id}/audit", headers=dispatcher).json["items"]
    assert trail[-1]["action"] == "reopened"
    assert trail[-1]["changes"]["completion"] == [{"resolution_code": "replaced_fuse"}, None]


@pytest.mark.parametrize("status", ["new", "assigned", "en_route", "on_site", "cancelled"])
def test_only_completed_or_closed_orders_can_be_reopened(client, create, dispatcher, app, status):
    order = create()
    _set_status(app, order["id"], status)
    response = client.post(f"/api/v1/orders/{order['id']}/reopen", json={"reason": "x"},
                           headers=dispatcher)
    assert (response.status_code, response.json["code"]) == (409, "invalid_transition")


def test_a_refused_transition_leaves_no_trace(client, create, dispatcher, app):
    order = create()
    _set_status(app, order["id"], "cancelled")
    client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "x"}, headers=dispatcher)
    trail = client.get(f"/api/v1/orders/{order['id']}/audit", headers=dispatcher).json["items"]
    assert [e["action"] for e in trail] == ["created"]
