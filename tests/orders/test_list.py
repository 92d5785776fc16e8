"""GET /orders: filters, text search, and keyset pages that return every order exactly once."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import update

from server.db import db
from server.domain.history import lock_order
from server.models import Order
from tests.orders.conftest import order_body


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def _walk(client, headers, limit, between_pages=lambda: None, query="") -> list[str]:
    """Every id of every page, in the order served."""
    seen: list[str] = []
    cursor = None
    while True:
        url = f"/api/v1/orders?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).json
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        between_pages()


def test_list_is_in_creation_order_with_a_null_cursor_at_the_end(client, create, dispatcher):
    created = [create(title=f"Order {n}")["id"] for n in range(3)]
    response = client.get("/api/v1/orders", headers=dispatcher)
    assert _ids(response) == created
    assert response.json["next_cursor"] is None


def test_pagination_returns_every_order_once_while_orders_are_added(client, create, dispatcher,
                                                                    app):
    existing = [create(title=f"Existing {n}")["id"] for n in range(23)]
    with app.app_context(), db.transaction() as session:
        # Ties on created_at must be broken by id, never by luck.
        instant = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        tied = [uuid.UUID(i) for i in existing[5:15]]
        session.execute(update(Order).where(Order.id.in_(tied)).values(created_at=instant))
    added: list[str] = []

    def add_two_orders():
        added.extend(create(title="Added meanwhile")["id"] for _ in range(2))

    seen = _walk(client, dispatcher, limit=4, between_pages=add_two_orders)
    assert len(seen) == len(set(seen)), "an order was served twice"
    assert sorted(o for o in seen if o in existing) == sorted(existing)
    assert set(seen) <= set(existing) | set(added)
    assert added, "orders were added while paging"


@pytest.mark.parametrize("limit", [0, 501, "many"])
def test_limit_outside_1_to_500_is_a_validation_error(client, dispatcher, limit):
    response = client.get(f"/api/v1/orders?limit={limit}", headers=dispatcher)
    assert response.status_code == 422
    assert "limit" in response.json["errors"]


def test_default_limit_is_50(client, dispatcher, factory):
    for _ in range(51):
        factory.order()
    page = client.get("/api/v1/orders", headers=dispatcher).json
    assert len(page["items"]) == 50 and page["next_cursor"]


@pytest.mark.parametrize("cursor", ["not-a-cursor!", "bm9wZQ", "eyJzZXEiOjF9", "%00"])
def test_a_malformed_cursor_is_400_invalid_cursor(client, dispatcher, cursor):
    response = client.get(f"/api/v1/orders?cursor={cursor}", headers=dispatcher)
    assert (response.status_code, response.json["code"]) == (400, "invalid_cursor")


def test_filter_by_repeated_status_team_priority_and_assignee(client, dispatcher, factory, app):
    team, other_team = factory.team(), factory.team()
    crew = factory.user("crew", team=team)
    mate = factory.user("crew", team=team)
    unassigned = factory.order(priority="low")
    for_crew = factory.order(team=team, user_ids=[crew.id], priority="urgent")
    for_mate = factory.order(team=team, user_ids=[mate.id])
    elsewhere = factory.order(team=other_team, priority="urgent")
    with app.app_context(), db.transaction() as session:
        lock_order(session, elsewhere.id).status = "on_site"

    def ids(query):
        return set(_ids(client.get(f"/api/v1/orders?{query}", headers=dispatcher)))

    assert ids("status=new") == {str(unassigned.id)}
    assert ids("status=new&status=on_site") == {str(unassigned.id), str(elsewhere.id)}
    assert ids(f"team_id={team.id}") == {str(for_crew.id), str(for_mate.id)}
    assert ids(f"assignee={crew.id}") == {str(for_crew.id)}
    assert ids("priority=urgent") == {str(for_crew.id), str(elsewhere.id)}
    assert ids("priority=urgent&priority=low") == {str(for_crew.id), str(elsewhere.id),
                                                   str(unassigned.id)}
    assert ids(f"priority=urgent&team_id={team.id}") == {str(for_crew.id)}
    assert client.get("/api/v1/orders?status=lost", headers=dispatcher).status_code == 422


def test_updated_since_lists_orders_changed_at_or_after_the_time(client, create, dispatcher, app):
    old, recent = create(title="Old"), create(title="Recent")
    with app.app_context(), db.transaction() as session:
        session.execute(update(Order).where(Order.id == uuid.UUID(old["id"])).values(
            updated_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)))
    assert _ids(client.get("/api/v1/orders?updated_since=2026-01-01T00:00:00Z",
                           headers=dispatcher)) == [recent["id"]]
    naive = client.get("/api/v1/orders?updated_since=2026-01-01T00:00:00", headers=dispatcher)
    assert naive.status_code == 422 and "updated_since" in naive.json["errors"]


def test_overdue_arrival_lists_orders_whose_arrival_deadline_passed(client, create, dispatcher):
    late = create(sla={"arrive_by": "2020-01-01T00:00:00Z", "complete_by": "2099-01-01T00:00:00Z"})
    create(sla={"arrive_by": "2099-01-01T00:00:00Z", "complete_by": "2099-01-02T00:00:00Z"})
    assert _ids(client.get("/api/v1/orders?overdue=arrival", headers=dispatcher)) == [late["id"]]
    assert client.get("/api/v1/orders?overdue=someday", headers=dispatcher).status_code == 422


@pytest.mark.parametrize("overdue", ["true", "1"])
def test_overdue_true_lists_orders_late_for_arrival_or_completion(client, create, dispatcher,
                                                                  overdue):
    late_arrival = create(sla={"arrive_by": "2020-01-01T00:00:00Z",
                               "complete_by": "2099-01-01T00:00:00Z"})
    late_completion = create(sla={"arrive_by": "2099-01-01T00:00:00Z",
                                  "complete_by": "2020-01-01T00:00:00Z"})
    create(sla={"arrive_by": "2099-01-01T00:00:00Z", "complete_by": "2099-01-02T00:00:00Z"})
    response = client.get(f"/api/v1/orders?overdue={overdue}", headers=dispatcher)
    assert _ids(response) == [late_arrival["id"], late_completion["id"]]


@pytest.mark.parametrize("overdue", ["false", "0"])
def test_overdue_false_lists_orders_late_for_neither_target(client, create, dispatcher, app,
                                                            overdue):
    create(sla={"arrive_by": "2020-01-01T00:00:00Z", "complete_by": "2099-01-01T00:00:00Z"})
    create(sla={"arrive_by": "2099-01-01T00:00:00Z", "complete_by": "2020-01-01T00:00:00Z"})
    on_time = create(sla={"arrive_by": "2099-01-01T00:00:00Z",
                          "complete_by": "2099-01-02T00:00:00Z"})
    no_deadlines = create()
    with app.app_context(), db.transaction() as session:
        session.execute(update(Order).where(Order.id == uuid.UUID(no_deadlines["id"])).values(
            sla_arrive_by=None, sla_complete_by=None))
    response = client.get(f"/api/v1/orders?overdue={overdue}", headers=dispatcher)
    assert _ids(response) == [on_time["id"], no_deadlines["id"]]


def test_the_overdue_parameter_documents_its_values(client):
    spec = client.get("/api/v1/openapi.json").json
    [overdue] = [p for p in spec["paths"]["/api/v1/orders"]["get"]["parameters"]
                 if p["name"] == "overdue"]
    assert set(overdue["schema"]["enum"]) == {"arrival", "completion", "followup",
                                              "true", "1", "false", "0"}
    assert "true" in overdue["description"] and "false" in overdue["description"]


@pytest.mark.parametrize("q, expected", [
    ("HUMMING", ["humming"]),
    ("zhao", ["customer"]),
    ("xianqian", ["address"]),
    ("100%", ["percent"]),
    ("_", []),
    ("nothing like it", []),
])
def test_q_searches_title_customer_and_address_case_insensitively(client, dispatcher, create, q,
                                                                  expected):
    made = {
        "humming": create(title="Transformer humming"),
        "customer": create(title="Cable cut", customer={"name": "Zhao Lei"}),
        "address": create(title="Pole leaning", address="12 Xianqian Street"),
        "percent": create(title="Meter reads 100% too high"),
    }
    response = client.get("/api/v1/orders", query_string={"q": q}, headers=dispatcher)
    assert _ids(response) == [made[name]["id"] for name in expected]


@pytest.mark.parametrize("q", ["8123 4567", "acc-9921"])
def test_q_searches_the_customers_phone_and_account(client, dispatcher, create, q):
    create(customer={"name": "Li Na", "phone": "+86 791 5555 0000", "account": "ACC-1000"})
    target = create(customer={"name": "Li Na", "phone": "+86 791 8123 4567",
                              "account": "ACC-9921"})
    response = client.get("/api/v1/orders", query_string={"q": q}, headers=dispatcher)
    assert _ids(response) == [target["id"]]


def test_q_finds_an_order_by_its_number(client, dispatcher, create):
    create()
    target = create()
    number_tail = target["number"][-6:]
    response = client.get("/api/v1/orders", query_string={"q": number_tail.lower()},
                          headers=dispatcher)
    assert _ids(response) == [target["id"]]


def test_filters_combine_with_pagination(client, dispatcher):
    for n in range(7):
        client.post("/api/v1/orders", headers=dispatcher,
                    json=order_body(title=f"Leak {n}", priority="urgent" if n % 2 else "low"))
    seen = _walk(client, dispatcher, limit=2, query="&priority=urgent&q=leak")
    assert len(seen) == 3 and len(set(seen)) == 3
