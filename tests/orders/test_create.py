"""POST /orders: validation with field messages, normalised times, assignment, idempotency."""

from __future__ import annotations

import pytest

from server.db import db
from server.models import Order
from tests.orders.conftest import order_body


def test_create_returns_the_order_with_etag_and_location(client, dispatcher):
    response = client.post("/api/v1/orders", json=order_body(), headers=dispatcher)
    assert response.status_code == 201
    order = response.json
    assert order["number"].startswith("WO-") and len(order["number"]) == len("WO-2026-000001")
    assert order["status"] == "new" and order["version"] == 1
    assert order["customer"] == {"name": "Wang Fang", "phone": "+86 791 8888 1234",
                                 "account": "ACC-77"}
    assert order["location"] == {"lat": 28.69, "lon": 115.88}
    assert order["required_skills"] == ["electrical", "high_voltage"]
    assert order["sla"] == {"arrive_by": "2026-11-21T02:00:00.000Z",
                            "complete_by": "2026-11-21T08:00:00.000Z"}
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"].endswith(f"/api/v1/orders/{order['id']}")
    assert client.get(response.headers["Location"], headers=dispatcher).json == order


def test_minimal_body_gets_defaults(client, dispatcher):
    body = {"source": "portal", "kind": "inspection", "title": "Meter check",
            "customer": {"name": "Zhou Min"}}
    order = client.post("/api/v1/orders", json=body, headers=dispatcher).json
    assert (order["priority"], order["description"], order["required_skills"]) == ("normal", "", [])
    assert order["location"] is None


@pytest.mark.parametrize("member, value, field", [
    ("source", "pigeon", "source"),
    ("kind", "demolition", "kind"),
    ("priority", "whenever", "priority"),
    ("title", "", "title"),
    ("title", "x" * 201, "title"),
    ("location", {"lat": 91, "lon": 0}, "location"),
    ("location", {"lat": 28.6}, "location"),
    ("required_skills", "electrical", "required_skills"),
    ("customer", {"phone": "123"}, "customer"),
    ("sla", {"arrive_by": "tomorrow"}, "sla"),
    ("assignment", {"user_ids": []}, "assignment"),
    ("colour", "red", "colour"),
])
def test_invalid_members_are_validation_errors_naming_the_field(client, dispatcher, member, value,
                                                                field):
    response = client.post("/api/v1/orders", json=order_body(**{member: value}), headers=dispatcher)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]


@pytest.mark.parametrize("missing", ["source", "kind", "title", "customer"])
def test_required_members_are_reported_missing(client, dispatcher, missing):
    body = order_body()
    del body[missing]
    response = client.post("/api/v1/orders", json=body, headers=dispatcher)
    assert response.status_code == 422
    assert response.json["errors"][missing] == ["Missing data for required field."]


def test_naive_datetime_is_refused_with_a_message_on_the_field(client, dispatcher):
    body = order_body(sla={"arrive_by": "2026-11-21T10:00:00"})
    response = client.post("/api/v1/orders", json=body, headers=dispatcher)
    assert response.status_code == 422
    assert "offset" in response.json["errors"]["sla"]["arrive_by"][0]


def test_malformed_json_is_a_400_problem(client, dispatcher):
    response = client.post("/api/v1/orders", data="{not json", headers={
        **dispatcher, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["code"] == "malformed_json"


def test_dispatcher_creates_and_assigns_in_one_request(client, dispatcher, factory):
    team = factory.team()
    crew = factory.user("crew", team=team)
    body = order_body(assignment={"team_id": str(team.id), "user_ids": [str(crew.id)]})
    order = client.post("/api/v1/orders", json=body, headers=dispatcher).json
    assert order["status"] == "assigned"
    assert order["assignment"] == {"team_id": str(team.id), "user_ids": [str(crew.id)]}
    audit = client.get(f"/api/v1/orders/{order['id']}/audit", headers=dispatcher).json
    assert [e["action"] for e in audit["items"]] == ["created", "assigned"]


def test_assignment_to_a_stranger_rolls_back_the_whole_create(client, dispatcher, factory, app):
    team = factory.team()
    outsider = factory.user("crew")
    body = order_body(assignment={"team_id": str(team.id), "user_ids": [str(outsider.id)]})
    response = client.post("/api/v1/orders", json=body, headers=dispatcher)
    assert response.status_code == 422
    assert "user_ids" in response.json["errors"]
    with app.app_context():
        assert db.session.query(Order).count() == 0


def test_an_agent_may_create_but_not_assign(client, factory):
    agent = factory.staff_headers("agent")
    team = factory.team()
    assert client.post("/api/v1/orders", json=order_body(), headers=agent).status_code == 201
    body = order_body(assignment={"team_id": str(team.id), "user_ids": []})
    response = client.post("/api/v1/orders", json=body, headers=agent)
    assert (response.status_code, response.json["code"]) == (403, "forbidden")


def test_same_idempotency_key_and_body_return_the_same_order(client, dispatcher, app):
    headers = {**dispatcher, "Idempotency-Key": "create-1"}
    first = client.post("/api/v1/orders", json=order_body(), headers=headers)
    again = client.post("/api/v1/orders", json=order_body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json["id"] == first.json["id"]
    assert again.json["number"] == first.json["number"]
    with app.app_context():
        assert db.session.query(Order).count() == 1


def test_equal_bodies_written_differently_count_as_the_same_request(client, dispatcher):
    headers = {**dispatcher, "Idempotency-Key": "tz"}
    first = client.post("/api/v1/orders", json=order_body(), headers=headers).json
    same_instant = order_body(sla={"arrive_by": "2026-11-21T02:00:00Z",
                                   "complete_by": "2026-11-21T16:00:00+08:00"})
    again = client.post("/api/v1/orders", json=same_instant, headers=headers).json
    assert again["id"] == first["id"]


def test_same_idempotency_key_with_another_body_is_refused(client, dispatcher, app):
    headers = {**dispatcher, "Idempotency-Key": "create-2"}
    assert client.post("/api/v1/orders", json=order_body(), headers=headers).status_code == 201
    response = client.post("/api/v1/orders", json=order_body(title="Other"), headers=headers)
    assert response.status_code == 422
    assert response.json["code"] == "idempotency_key_reused"
    with app.app_context():
        assert db.session.query(Order).count() == 1


def test_idempotency_keys_belong_to_their_user(client, factory):
    first = client.post("/api/v1/orders", json=order_body(), headers={
        **factory.staff_headers("dispatcher"), "Idempotency-Key": "shared"}).json
    second = client.post("/api/v1/orders", json=order_body(), headers={
        **factory.staff_headers("dispatcher"), "Idempotency-Key": "shared"}).json
    assert first["id"] != second["id"]


def test_an_overlong_idempotency_key_is_a_validation_error(client, dispatcher):
    response = client.post("/api/v1/orders", json=order_body(),
                           headers={**dispatcher, "Idempotency-Key": "k" * 201})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["errors"]


def test_without_a_key_every_post_creates_an_order(client, dispatcher):
    numbers = {client.post("/api/v1/orders", json=order_body(), headers=dispatcher).json["number"]
               for _ in range(3)}
    assert len(numbers) == 3


def test_losing_a_key_race_answers_with_the_winners_order_and_leaves_nothing(client, dispatcher,
                                                                              app, monkeypatch):
    """The winner commits between our key lookup and our insert: our insert fails on the key."""
    from server.domain import orders as domain_orders
    from server.models import ChangeLog

    headers = {**dispatcher, "Idempotency-Key": "race"}
    winner = client.post("/api/v1/orders", json=order_body(), headers=headers).json
    real_replay = domain_orders._replay
    lookups = []

    def lookup_before_the_winner_committed(*args):
        lookups.append(args)
        return None if len(lookups) == 1 else real_replay(*args)

    monkeypatch.setattr(domain_orders, "_replay", lookup_before_the_winner_committed)
    loser = client.post("/api/v1/orders", json=order_body(), headers=headers)
    assert loser.status_code == 201
    assert loser.json["id"] == winner["id"]
    assert loser.headers["Idempotent-Replayed"] == "true"
    assert len(lookups) == 2
    with app.app_context():
        assert db.session.query(Order).count() == 1
        assert db.session.query(ChangeLog).count() == 1
    next_order = client.post("/api/v1/orders", json=order_body(), headers=dispatcher).json
    assert int(next_order["number"][-6:]) == int(winner["number"][-6:]) + 1
