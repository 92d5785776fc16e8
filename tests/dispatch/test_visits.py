"""Follow-up visits: outcomes, idempotency on the visit id, the pending list and its SLA."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from server.db import db
from server.json_provider import to_rfc3339
from server.models import Team
from server.models.base import utcnow
from tests.dispatch.conftest import iso

HOUR = dt.timedelta(hours=1)


def visit_body(**overrides):
    body = {
        "id": str(uuid.uuid4()),
        "contacted_at": iso(utcnow()),
        "channel": "phone",
        "reached": True,
        "satisfaction": 5,
        "comment": "All good now.",
        "outcome": "resolved",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


@pytest.fixture
def agent(factory):
    return factory.staff_headers("agent")


def post_visit(helpers, headers, order_id, body):
    return helpers.client.post(f"/api/v1/orders/{order_id}/visits", json=body, headers=headers)


def test_a_resolved_visit_closes_the_order_and_is_audited(helpers, agent):
    order = helpers.completed_order(completed_at=utcnow() - 3 * HOUR)
    body = visit_body(satisfaction=4)

    response = post_visit(helpers, agent, order.id, body)

    assert response.status_code == 201, response.json
    assert response.json["id"] == body["id"]
    assert response.json["outcome"] == "resolved"
    assert helpers.order(order.id).status == "closed"
    actions = [e["action"] for e in helpers.events(order.id)]
    assert actions[-2:] == ["followup_visit", "closed"]
    [event] = helpers.events(order.id, "followup_visit")
    assert event["details"]["visit_id"] == body["id"]
    assert event["details"]["satisfaction"] == 4
    assert event["details"]["reached"] is True
    assert event["event_time"] == response.json["contacted_at"]
    assert helpers.events(order.id, "closed")[0]["details"] == {"visit_id": body["id"]}


def test_a_reopen_visit_sends_the_order_back_to_the_same_team(helpers, agent, factory):
    team = factory.team()
    order = helpers.completed_order(team=team, completed_at=utcnow() - HOUR)

    response = post_visit(
        helpers,
        agent,
        order.id,
        visit_body(satisfaction=1, outcome="reopen", comment="Lights flicker again"),
    )

    assert response.status_code == 201
    stored = helpers.order(order.id)
    assert (stored.status, stored.team_id, stored.reopen_count) == ("assigned", team.id, 1)
    [reopened] = helpers.events(order.id, "reopened")
    assert reopened["details"]["reason"] == "Lights flicker again"
    assert reopened["details"]["visit_id"] == response.json["id"]


def test_a_reopen_visit_returns_the_order_to_new_when_the_team_is_gone(
    helpers, agent, factory, app
):
    team = factory.team()
    order = helpers.completed_order(team=team, completed_at=utcnow() - HOUR)
    with app.app_context(), db.transaction() as session:
        session.get(Team, team.id).active = False

    response = post_visit(helpers, agent, order.id, visit_body(satisfaction=2, outcome="reopen"))

    assert response.status_code == 201
    stored = helpers.order(order.id)
    assert (stored.status, stored.team_id) == ("new", None)


def test_an_unreached_customer_keeps_the_order_pending(helpers, agent):
    order = helpers.completed_order(completed_at=utcnow() - HOUR)

    response = post_visit(
        helpers,
        agent,
        order.id,
        visit_body(
            reached=False, satisfaction=..., outcome=..., channel="sms", comment="No answer"
        ),
    )

    assert response.status_code == 201, response.json
    assert response.json["satisfaction"] is None and response.json["outcome"] is None
    assert helpers.order(order.id).status == "completed"
    [item] = helpers.client.get("/api/v1/visits/pending", headers=agent).json["items"]
    assert item["id"] == str(order.id)
    assert item["followup"]["attempts"] == 1
    assert len(helpers.events(order.id, "followup_visit")) == 1


def test_a_replayed_visit_answers_the_stored_one_and_changes_nothing(helpers, agent):
    order = helpers.completed_order(completed_at=utcnow() - HOUR)
    body = visit_body()
    first = post_visit(helpers, agent, order.id, body)
    version = helpers.order(order.id).version

    replay = post_visit(helpers, agent, order.id, body)

    assert first.status_code == 201
    assert replay.status_code == 200
    assert replay.json == first.json
    assert helpers.order(order.id).version == version
    assert len(helpers.events(order.id, "followup_visit")) == 1
    listed = helpers.client.get(f"/api/v1/orders/{order.id}/visits", headers=agent).json
    assert [v["id"] for v in listed["items"]] == [body["id"]]


def test_a_visit_id_reused_with_other_content_is_409(helpers, agent):
    order = helpers.completed_order(completed_at=utcnow() - HOUR)
    other = helpers.completed_order(completed_at=utcnow() - HOUR)
    body = visit_body(reached=False, satisfaction=..., outcome=...)
    assert post_visit(helpers, agent, order.id, body).status_code == 201

    changed = post_visit(helpers, agent, order.id, {**body, "comment": "different"})
    elsewhere = post_visit(helpers, agent, other.id, body)

    for response in (changed, elsewhere):
        assert response.status_code == 409
        assert response.json["code"] == "visit_id_reused"


@pytest.mark.parametrize("status", ["new", "assigned", "on_site", "closed", "cancelled"])
def test_only_completed_orders_take_a_visit(helpers, agent, status):
    order = helpers.completed_order(completed_at=utcnow() - HOUR)
    helpers.set_order(order.id, status=status)

    response = post_visit(helpers, agent, order.id, visit_body())

    assert response.status_code == 409
    assert response.json["code"] == "invalid_transition"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"satisfaction": ...}, "satisfaction"),
        ({"outcome": ...}, "outcome"),
        ({"reached": False}, "satisfaction"),
        ({"reached": False, "satisfaction": ...}, "outcome"),
        ({"satisfaction": 6}, "satisfaction"),
        ({"channel": "email"}, "channel"),
        ({"contacted_at": "2026-11-21T08:00:00"}, "contacted_at"),
        ({"id": "not-a-uuid"}, "id"),
    ],
)
def test_invalid_visits_are_refused_with_field_errors(helpers, agent, overrides, field):
    order = helpers.completed_order(completed_at=utcnow() - HOUR)

    response = post_visit(helpers, agent, order.id, visit_body(**overrides))

    assert response.status_code == 422
    assert field in response.json["errors"]


def test_pending_follow_ups_are_ordered_by_completion_with_due_time_and_overdue_flag(
    helpers, agent
):
    now = utcnow()
    recent = helpers.completed_order(completed_at=now - 2 * HOUR)
    oldest = helpers.completed_order(completed_at=now - 30 * HOUR)
    middle = helpers.completed_order(completed_at=now - 10 * HOUR)
    closed = helpers.completed_order(completed_at=now - 40 * HOUR)
    helpers.set_order(closed.id, status="closed")
    helpers.factory.order()  # never completed

    first = helpers.client.get("/api/v1/visits/pending?limit=2", headers=agent).json
    second = helpers.client.get(
        f"/api/v1/visits/pending?limit=2&cursor={first['next_cursor']}", headers=agent
    ).json
    overdue = helpers.client.get("/api/v1/visits/pending?overdue=true", headers=agent).json

    items = first["items"] + second["items"]
    assert [item["id"] for item in items] == [
        str(oldest.id),
        str(middle.id),
        str(recent.id),
    ]
    assert second["next_cursor"] is None
    assert [item["followup"]["overdue"] for item in items] == [True, False, False]
    due = dt.datetime.fromisoformat(items[0]["followup"]["due_at"].replace("Z", "+00:00"))
    assert due == pytest.approx(now - 6 * HOUR, abs=dt.timedelta(milliseconds=2))
    assert [item["id"] for item in overdue["items"]] == [str(oldest.id)]


def test_a_pending_follow_up_is_the_order_as_staff_see_it_plus_its_follow_up(helpers, agent):
    completed_at = utcnow() - HOUR
    order = helpers.completed_order(completed_at=completed_at)
    post_visit(helpers, agent, order.id, visit_body(reached=False, satisfaction=..., outcome=...))
    served = helpers.client.get(f"/api/v1/orders/{order.id}", headers=agent).json

    [item] = helpers.client.get("/api/v1/visits/pending", headers=agent).json["items"]

    followup = item.pop("followup")
    assert item == served
    assert item["status"] == "completed"
    assert set(followup) == {"completed_at", "due_at", "overdue", "attempts", "last_attempt_at"}
    assert followup["completed_at"] == to_rfc3339(completed_at)
    assert (followup["overdue"], followup["attempts"]) == (False, 1)
    assert followup["last_attempt_at"].endswith("Z")


def test_pending_list_rejects_a_forged_cursor(helpers, agent):
    response = helpers.client.get("/api/v1/visits/pending?cursor=bm9wZQ", headers=agent)

    assert response.status_code == 400
    assert response.json["code"] == "invalid_cursor"


def test_crews_cannot_record_or_list_visits(helpers, factory):
    order = helpers.completed_order(completed_at=utcnow() - HOUR)
    crew = factory.staff_headers("crew")

    assert post_visit(helpers, crew, order.id, visit_body()).status_code == 403
    assert helpers.client.get("/api/v1/visits/pending", headers=crew).status_code == 403
    assert helpers.client.get(f"/api/v1/orders/{order.id}/visits", headers=crew).status_code == 403


def test_a_visit_to_an_unknown_order_is_404(helpers, agent):
    response = post_visit(helpers, agent, uuid.uuid4(), visit_body())

    assert response.status_code == 404
