"""The pull's own queries agree with the domain rules they stand in for, and a pull reads
everything (authentication included) through one connection and one snapshot."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from sqlalchemy import event, select, text, update

from schemas.orders import crew_view
from server.db import db
from server.domain.scope import scope_condition
from server.models import Order
from sync import pull as pull_module
from tests.conftest import postgresql_only
from tests.sync.conftest import (
    arrive_and_complete,
    captured_statements,
    expected_digest,
    now_ms,
    plan_nodes,
)

DAY = dt.timedelta(days=7) / 7


def _orders_of_every_kind(app, factory, team):
    """Orders of `team` in every status, completed ones on both sides of the 7-day line."""
    now = dt.datetime.now(dt.UTC)
    orders = {status: factory.order(team=team) for status in ("assigned", "en_route", "on_site",
                                                               "cancelled", "closed")}
    orders["unassigned"] = factory.order()
    orders["other team"] = factory.order(team=factory.team())
    for name, age in (("done 1 day ago", DAY), ("done 6.9 days ago", 6.9 * DAY),
                      ("done 7.1 days ago", 7.1 * DAY), ("done 9 days ago", 9 * DAY),
                      ("done 30 days ago", 30 * DAY)):
        orders[name] = factory.order(team=team)
        orders[name].completed_at = now - age
    with app.app_context(), db.transaction() as session:
        for name, order in orders.items():
            status = order.status if name in ("unassigned", "other team") else name
            if name.startswith("done"):
                status = "completed"
            session.execute(update(Order).where(Order.id == order.id).values(
                status=status, completed_at=order.completed_at if status == "completed" else None))
    return orders, now


def test_the_scope_query_finds_the_orders_of_scope_condition_and_those_that_aged_out(
        app, factory):
    team = factory.team()
    orders, now = _orders_of_every_kind(app, factory, team)
    since = now - 1.5 * DAY
    with app.app_context():
        session = db.session
        expected = set(session.scalars(select(Order.id).where(scope_condition(team.id, now))))
        for sorted_ in (False, True):
            scope = pull_module._scope(session, team.id, now, sorted_=sorted_,
                                       expired_since=since)
            assert {entry.id for entry in scope.entries} == expected
            assert set(scope.expired) == {orders["done 7.1 days ago"].id}
            plain = pull_module._scope(session, team.id, now, sorted_=sorted_)
            assert plain.expired == [] and {entry.id for entry in plain.entries} == expected
        assert set(pull_module._load_scope_orders(session, team.id, now)) == expected
    assert orders["done 6.9 days ago"].id in expected and orders["on_site"].id in expected


def test_pulled_orders_are_byte_for_byte_the_crew_view_of_the_order(app, factory):
    team = factory.team()
    orders, now = _orders_of_every_kind(app, factory, team)
    with app.app_context():
        session = db.session
        ids = [order.id for order in orders.values()]
        rows = pull_module._load_orders(session, ids)
        assert set(rows) == set(ids)
        for order in session.scalars(select(Order).where(Order.id.in_(ids))):
            assert orjson.dumps(crew_view(rows[order.id])) == orjson.dumps(crew_view(order))


def test_a_snapshot_and_a_delta_render_orders_as_the_order_endpoint_does(
        client, factory, tablet, reference_data):
    team = factory.team()
    order = factory.order(team=team, priority="urgent")
    device = tablet(team=team)
    device.sync()
    arrive_and_complete(device, order.id, completed_ms=now_ms())
    pages = device.sync()

    [change] = [c for c in pages[-1]["changes"] if c["type"] == "order"]
    served = client.get(f"/api/v1/orders/{order.id}", headers=device.headers).get_json()
    assert change["data"] == served


@pytest.fixture
def checkouts(app):
    """The pool checkouts made while the test runs (a list of connection records)."""
    made = []
    with app.app_context():
        engine = db.engine

    def note(_dbapi_connection, record, _proxy):
        made.append(record)

    event.listen(engine, "checkout", note)
    yield made
    event.remove(engine, "checkout", note)


def test_a_pull_checks_out_one_connection(factory, tablet, reference_data, checkouts):
    team = factory.team()
    factory.order(team=team)
    device = tablet(team=team)
    device.sync()  # the first pull also records the device's sync time, in its own transaction
    checkouts.clear()

    page = device.pull_response(device.cursor)

    assert page.status_code == 200
    assert len(checkouts) == 1


def test_authentication_reads_from_the_snapshot_the_pull_begins(app, factory):
    with app.test_request_context("/api/v1/sync/pull"):
        session = db.begin_snapshot()
        with db.auth_session() as auth_session:
            assert auth_session is session
        if not db.is_sqlite:
            level = session.execute(text("SHOW transaction_isolation")).scalar_one()
            assert level == "repeatable read"
        with pytest.raises(RuntimeError):
            db.begin_snapshot()


@pytest.fixture
def statements(app):
    """The SQL statements run while the test runs (transaction control not included), with
    their parameters."""
    with captured_statements(app, "") as captured:
        yield captured


def _queries(statements: list[tuple[str, object]]) -> int:
    return len([s for s, _ in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))])


def test_a_delta_that_changes_the_digest_costs_two_queries_on_postgresql_four_on_sqlite(
        app, factory, tablet, reference_data, statements):
    """The device check (which also reads where the feed stands and the reference versions),
    then the feed rows, the changed orders and the digest: on PostgreSQL one statement; on
    SQLite the feed rows, the scope and the changed orders."""
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    device.sync()
    device.push(device.mutation("add_note", order.id, {"text": "Meter sealed."}))
    statements.clear()

    [page] = device.sync()

    assert [c["id"] for c in page["changes"]] == [str(order.id)]
    assert device.orders()[str(order.id)]["data"]["notes"][-1]["text"] == "Meter sealed."
    with app.app_context():
        assert _queries(statements) == (4 if db.is_sqlite else 2)
    assert device.last_page["scope_digest"] == device.digest() == expected_digest(app, team.id)


@postgresql_only("PostgreSQL's delta statement; SQLite reads the scope on its own")
def test_a_delta_reads_the_scope_once_however_many_orders_changed(
        app, factory, tablet, reference_data):
    """The scope (for the digest) is read once per delta, not once per changed order, whatever
    plan the table's statistics lead PostgreSQL to: here they are those of an empty table."""
    team = factory.team()
    orders = [factory.order(team=team) for _ in range(10)]
    device = tablet(team=team)
    device.sync()
    device.push(*(device.mutation("add_note", order.id, {"text": "Checked."})
                  for order in orders[:4]))
    with captured_statements(app, "scope_summary") as captured:
        [page] = device.sync()

    assert len(page["changes"]) == 4
    [(statement, parameters)] = captured
    rows_read = sum(node["Actual Rows"] * node["Actual Loops"]
                    for node in plan_nodes(app, statement, parameters, analyze=True)
                    if node.get("Relation Name") == "orders")
    assert rows_read == 10 + 4  # the scope, then the changed orders


def test_an_empty_delta_pull_is_one_query(factory, tablet, reference_data, statements):
    team = factory.team()
    factory.order(team=team)
    device = tablet(team=team)
    device.sync()
    statements.clear()

    [page] = device.sync()

    assert page["changes"] == [] and page["scope_digest"] == device.digest()
    assert _queries(statements) == 1


def test_pull_called_without_the_device_check_reads_the_feed_state_itself(
        app, factory, tablet, reference_data):
    """The domain function needs no HTTP layer: without `state` it reads it, with the same
    result as the endpoint."""
    team = factory.team()
    orders = [factory.order(team=team) for _ in range(3)]
    device = tablet(team=team)
    device.sync()
    with app.app_context(), db.transaction() as session:
        page = pull_module.pull(session, team_id=team.id, device_id=device.device.id,
                                cursor=None, limit=500, now=dt.datetime.now(dt.UTC))
    assert not page.has_more
    assert page.digest == device.last_page["scope_digest"] == device.digest()
    assert {c["id"] for c in page.changes if c["type"] == "order"} == {
        str(order.id) for order in orders}
