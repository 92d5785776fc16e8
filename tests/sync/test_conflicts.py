"""Conflicts: a second completion is flagged, listed, and resolved by a dispatcher."""

from __future__ import annotations

from server.db import db
from server.models import Order
from tests.sync.conftest import iso, now_ms

LOCATION = {"lat": 28.68, "lon": 115.86}


def _two_completions(factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    first, second = tablet(team=team), tablet(team=team)
    t = now_ms()
    first.push(first.mutation("arrive", order.id, {"arrived_at": iso(t - 60_000),
                                                   "location": LOCATION}))
    winner = first.mutation("complete", order.id, {"completed_at": iso(t - 1000),
                                                   "resolution_code": "repaired"}, wall_ms=t - 1000)
    loser = second.mutation("complete", order.id, {"completed_at": iso(t),
                                                   "resolution_code": "replaced"}, wall_ms=t)
    return order, first, second, winner, loser


def _order(app, order_id) -> Order:
    with app.app_context(), db.transaction() as session:
        return session.get(Order, order_id)


def test_a_second_completion_is_kept_as_a_conflict_and_flags_the_order(app, client, factory,
                                                                      tablet):
    order, first, second, winner, loser = _two_completions(factory, tablet)

    assert second.push(loser)[0]["status"] == "applied"
    assert first.push(winner)[0]["status"] == "applied"

    row = _order(app, order.id)
    assert row.needs_review and row.completion["mutation_id"] == winner["id"]
    headers = factory.staff_headers("dispatcher")
    [conflict] = client.get(f"/api/v1/orders/{order.id}/conflicts",
                            headers=headers).get_json()["items"]
    assert conflict["kind"] == "second_completion"
    assert conflict["mutation_id"] == loser["id"] and conflict["resolved_at"] is None
    assert conflict["mutation"]["data"]["resolution_code"] == "replaced"


def test_the_same_completion_twice_is_no_conflict(app, factory, tablet):
    order, first, second, winner, _ = _two_completions(factory, tablet)
    same = {**winner, "id": second.mutation("add_note", order.id, {"text": "x"})["id"],
            "hlc": second.stamp(now_ms() + 10)}

    results = first.push(winner) + second.push(same)

    assert [r["status"] for r in results] == ["applied", "merged"]
    assert not _order(app, order.id).needs_review


def test_resolving_keep_current_clears_review_and_is_audited(app, client, factory, tablet):
    order, first, second, winner, loser = _two_completions(factory, tablet)
    first.push(winner)
    second.push(loser)
    headers = factory.staff_headers("dispatcher")
    [conflict] = client.get("/api/v1/conflicts", query_string={"open": "true"},
                            headers=headers).get_json()["items"]

    response = client.post(f"/api/v1/conflicts/{conflict['id']}/resolve",
                           json={"resolution": "keep_current", "comment": "first one is right"},
                           headers=headers)

    assert response.status_code == 200
    assert response.get_json()["resolution"] == "keep_current"
    assert response.get_json()["resolved_at"] is not None
    row = _order(app, order.id)
    assert not row.needs_review and row.completion["mutation_id"] == winner["id"]
    assert client.get("/api/v1/conflicts", query_string={"open": "true"},
                      headers=headers).get_json()["items"] == []
    events = client.get(f"/api/v1/orders/{order.id}/audit", query_string={"limit": 500},
                        headers=headers).get_json()["items"]
    assert events[-1]["action"] == "conflict_resolved"
    assert events[-1]["details"]["resolution"] == "keep_current"
    again = client.post(f"/api/v1/conflicts/{conflict['id']}/resolve",
                        json={"resolution": "keep_current"}, headers=headers)
    assert again.status_code == 409 and again.get_json()["code"] == "invalid_transition"


def test_accepting_the_losing_completion_replaces_the_completion(app, client, factory, tablet):
    order, first, second, winner, loser = _two_completions(factory, tablet)
    first.push(winner)
    second.push(loser)
    headers = factory.staff_headers("dispatcher")
    [conflict] = client.get(f"/api/v1/orders/{order.id}/conflicts",
                            headers=headers).get_json()["items"]
    version = _order(app, order.id).version

    response = client.post(f"/api/v1/conflicts/{conflict['id']}/resolve",
                           json={"resolution": "accept_mutation"}, headers=headers)

    assert response.status_code == 200
    row = _order(app, order.id)
    assert row.completion["mutation_id"] == loser["id"]
    assert row.completion["resolution_code"] == "replaced"
    assert not row.needs_review and row.version == version + 1
    first.sync()
    assert first.orders()[str(order.id)]["data"]["completion"]["resolution_code"] == "replaced"


def test_conflicts_are_for_dispatchers_and_admins(client, factory):
    agent = factory.staff_headers("agent")
    assert client.get("/api/v1/conflicts", headers=agent).status_code == 403
    missing = client.get("/api/v1/orders/00000000-0000-0000-0000-000000000001/conflicts",
                         headers=factory.staff_headers("admin"))
    assert missing.status_code == 404
