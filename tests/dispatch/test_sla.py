"""SLA deadlines per priority, the overdue filter, and the breach scan (once per order, target)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from server.config import Settings, parse_sla_targets
from server.db import db
from server.domain.sla import apply_default_deadlines, overdue_condition
from server.domain.sla_scan import run_scan
from server.models import Order
from server.models.base import utcnow
from server.models.dispatch import SlaBreach
from tests.dispatch.conftest import iso

HOUR = dt.timedelta(hours=1)


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("priority", "arrive", "complete"),
    [
        ("urgent", dt.timedelta(minutes=45), dt.timedelta(hours=4)),
        ("high", dt.timedelta(hours=2), dt.timedelta(hours=8)),
        ("normal", dt.timedelta(hours=4), dt.timedelta(hours=24)),
        ("low", dt.timedelta(hours=24), dt.timedelta(hours=72)),
    ],
)
def test_deadlines_default_from_the_priority_targets(helpers, priority, arrive, complete):
    order = helpers.create(priority=priority)

    created = parse_time(order["created_at"])
    assert parse_time(order["sla"]["arrive_by"]) - created == pytest.approx(
        arrive, abs=dt.timedelta(milliseconds=1)
    )
    assert parse_time(order["sla"]["complete_by"]) - created == pytest.approx(
        complete, abs=dt.timedelta(milliseconds=1)
    )


def test_deadlines_the_creator_sets_are_kept(helpers):
    order = helpers.create(priority="urgent", sla={"arrive_by": "2026-11-22T09:00:00+08:00"})

    assert order["sla"]["arrive_by"] == "2026-11-22T01:00:00.000Z"
    created = parse_time(order["created_at"])
    assert parse_time(order["sla"]["complete_by"]) - created == pytest.approx(
        4 * HOUR, abs=dt.timedelta(milliseconds=1)
    )


def test_configured_targets_override_the_defaults_per_priority():
    settings = Settings(sla_windows=parse_sla_targets("urgent=30m/2h, low=2d/5d"))
    created = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)
    urgent = Order(priority="urgent", created_at=created, sla_arrive_by=None, sla_complete_by=None)
    normal = Order(priority="normal", created_at=created, sla_arrive_by=None, sla_complete_by=None)

    apply_default_deadlines(urgent, settings)
    apply_default_deadlines(normal, settings)

    assert (urgent.sla_arrive_by, urgent.sla_complete_by) == (
        created + dt.timedelta(minutes=30),
        created + 2 * HOUR,
    )
    assert (normal.sla_arrive_by, normal.sla_complete_by) == (
        created + 4 * HOUR,
        created + 24 * HOUR,
    )
    assert parse_sla_targets("low=2d/5d")["low"] == (dt.timedelta(days=2), dt.timedelta(days=5))


@pytest.mark.parametrize("text", ["urgent=45m", "asap=1h/2h", "urgent=45x/4h", "urgent=/4h"])
def test_a_malformed_target_setting_stops_the_server(text):
    with pytest.raises(ValueError):
        parse_sla_targets(text)


def overdue_numbers(helpers, kind):
    response = helpers.client.get(
        f"/api/v1/orders?overdue={kind}&limit=500", headers=helpers.dispatcher
    )
    assert response.status_code == 200, response.json
    return sorted(item["title"] for item in response.json["items"])


def test_overdue_arrival_lists_open_breaches_only(helpers, factory):
    now = utcnow()
    team = factory.team()
    past, future = iso(now - HOUR), iso(now + HOUR)
    helpers.create(title="late new", sla={"arrive_by": past})
    assigned = factory.order(team=team, title="late assigned", sla_arrive_by=now - HOUR)
    helpers.create(title="not due yet", sla={"arrive_by": future})
    arrived = helpers.create(title="arrived late", sla={"arrive_by": past})
    helpers.set_order(arrived["id"], status="on_site", arrived_at=now - dt.timedelta(minutes=5))
    cancelled = helpers.create(title="cancelled", sla={"arrive_by": past})
    helpers.set_order(cancelled["id"], status="cancelled")

    assert overdue_numbers(helpers, "arrival") == ["late assigned", "late new"]
    assert assigned.status == "assigned"


def test_overdue_completion_and_followup(helpers, factory):
    now = utcnow()
    team = factory.team()
    factory.order(team=team, title="working late", sla_complete_by=now - HOUR)
    on_time = factory.order(team=team, title="done", sla_complete_by=now - HOUR)
    helpers.set_order(on_time.id, status="completed", completed_at=now - 2 * HOUR)
    factory.order(team=team, title="still time", sla_complete_by=now + HOUR)
    helpers.completed_order(team=team, title="callback overdue", completed_at=now - 25 * HOUR)
    helpers.completed_order(team=team, title="callback due later", completed_at=now - 23 * HOUR)
    closed = helpers.completed_order(team=team, title="closed", completed_at=now - 30 * HOUR)
    helpers.set_order(closed.id, status="closed")

    assert overdue_numbers(helpers, "completion") == ["working late"]
    assert overdue_numbers(helpers, "followup") == ["callback overdue"]


def test_overdue_condition_follows_the_clock_it_is_given(app, helpers):
    order = helpers.create(priority="urgent")
    created = parse_time(order["created_at"])
    settings = app.config["SETTINGS"]

    def overdue_at(kind, moment):
        with app.app_context():
            return db.session.scalars(
                select(Order.title).where(overdue_condition(kind, moment, settings))
            ).all()

    assert overdue_at("arrival", created + dt.timedelta(minutes=44)) == []
    assert overdue_at("arrival", created + dt.timedelta(minutes=46)) == [order["title"]]
    assert overdue_at("completion", created + dt.timedelta(hours=3)) == []
    assert overdue_at("completion", created + dt.timedelta(hours=5)) == [order["title"]]
    with pytest.raises(ValueError):
        overdue_condition("lunch", created, app.config["SETTINGS"])


def scan(app, now=None):
    with app.app_context():
        return run_scan(db.transaction, app.config["SETTINGS"], now or utcnow())


def test_an_arrival_recorded_offline_before_the_deadline_meets_it_however_late_it_syncs(
    app, helpers, factory
):
    """Arrived 10:05 on site (device time), target 10:30, synced at 13:00: no breach."""
    team = factory.team()
    day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    order = factory.order(
        team=team,
        sla_arrive_by=day.replace(hour=10, minute=30),
        sla_complete_by=day.replace(hour=16),
    )
    helpers.set_order(order.id, status="on_site", arrived_at=day.replace(hour=10, minute=5))

    recorded = scan(app, now=day.replace(hour=13))

    assert recorded["arrival"] == 0
    assert helpers.events(order.id, "sla_breached") == []


def test_scan_records_one_event_per_order_and_target_and_never_twice(app, helpers, factory):
    now = utcnow()
    team = factory.team()
    late_both = factory.order(team=team, sla_arrive_by=now - 2 * HOUR, sla_complete_by=now - HOUR)
    arrived_late = factory.order(
        team=team, sla_arrive_by=now - 2 * HOUR, sla_complete_by=now + HOUR
    )
    helpers.set_order(arrived_late.id, status="on_site", arrived_at=now - HOUR)
    fine = factory.order(team=team, sla_arrive_by=now + HOUR, sla_complete_by=now + 2 * HOUR)
    callback = helpers.completed_order(
        team=team, completed_at=now - 30 * HOUR, sla_arrive_by=now - 30 * HOUR, sla_complete_by=now
    )
    version_before = helpers.order(late_both.id).version

    first = helpers.app.test_cli_runner().invoke(args=["sla-scan"])
    second = helpers.app.test_cli_runner().invoke(args=["sla-scan"])

    assert first.exit_code == 0, first.output
    assert "recorded 4 new SLA breaches" in first.output
    assert "recorded 0 new SLA breaches" in second.output
    assert [e["details"]["target"] for e in helpers.events(late_both.id, "sla_breached")] == [
        "arrival",
        "completion",
    ]
    [late_arrival] = helpers.events(arrived_late.id, "sla_breached")
    assert late_arrival["details"]["state"] == "met_late"
    assert late_arrival["details"]["arrived_at"] is not None
    assert helpers.events(fine.id, "sla_breached") == []
    [followup] = helpers.events(callback.id, "sla_breached")
    assert followup["details"]["target"] == "followup"
    assert followup["details"]["state"] == "open"
    assert parse_time(followup["details"]["due_at"]) == pytest.approx(
        now - 6 * HOUR, abs=dt.timedelta(seconds=1)
    )
    assert helpers.order(late_both.id).version == version_before  # tablets are not woken up
    assert (
        helpers.client.get(f"/api/v1/orders/{late_both.id}", headers=helpers.dispatcher).json[
            "version"
        ]
        == version_before
    )


def test_concurrent_scans_record_each_breach_exactly_once(app, helpers, factory):
    now = utcnow()
    team = factory.team()
    orders = [
        factory.order(team=team, sla_arrive_by=now - HOUR, sla_complete_by=now - HOUR / 2)
        for _ in range(12)
    ]
    barrier = threading.Barrier(4)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(scan(app, now=now))
        except Exception as error:  # reported below: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sum(sum(counter.values()) for counter in results) == 24
    rows = helpers.event_rows("sla_breached")
    assert len(rows) == 24
    assert {(row.order_id, row.details["target"]) for row in rows} == {
        (order.id, target) for order in orders for target in ("arrival", "completion")
    }
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SlaBreach)) == 24
    for order in orders:
        chain = helpers.client.get(f"/api/v1/orders/{order.id}/audit", headers=helpers.dispatcher)
        assert [e["seq"] for e in chain.json["items"]] == [1, 2, 3, 4]
