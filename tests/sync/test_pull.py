"""Pull through HTTP: snapshot order and paging, deltas, scope entry and exit, digest, cursors."""

from __future__ import annotations

import datetime as dt
import time
import uuid

from sqlalchemy import select, update

from server.db import db
from server.domain.audit import SYSTEM
from server.domain.history import lock_order
from server.domain.lifecycle import close_order
from server.models import Device, Order, User
from server.models.media import Media
from sync import feed, reference
from tests.sync.conftest import arrive_and_complete, expected_digest, iso, now_ms

HOUR = dt.timedelta(hours=1)


def _in(hours: float) -> str:
    return iso(now_ms() + int(hours * 3_600_000))


def _add_media(app, order_id) -> str:
    """A media row as the media module stores it, with its feed entry."""
    media_id = uuid.uuid4()
    with app.app_context(), db.transaction() as session:
        order = session.get(Order, order_id)
        session.add(Media(
            id=media_id, order_id=order_id, kind="photo", sha256="ab" * 32, size=10,
            content_type="image/jpeg", width=4, height=3, taken_at=dt.datetime.now(dt.UTC),
            thumbnail_key="thumbs/x.jpg", thumbnail_content_type="image/jpeg", version=1,
        ))
        session.flush()
        feed.record(session, entity_type="media", entity_id=media_id, version=1,
                    order_id=order_id, team_id=order.team_id)
    return str(media_id)


def test_a_full_snapshot_sends_the_most_urgent_work_first(factory, tablet, reference_data):
    team = factory.team()
    now = dt.datetime.now(dt.UTC)
    low = factory.order(team=team, priority="low", sla_arrive_by=now + HOUR)
    late_urgent = factory.order(team=team, priority="urgent", sla_arrive_by=now + 5 * HOUR)
    soon_urgent = factory.order(team=team, priority="urgent", sla_arrive_by=now + HOUR)
    normal = factory.order(team=team, priority="normal", sla_arrive_by=now + 2 * HOUR)
    factory.order(team=factory.team())  # another team's order
    device = tablet(team=team)

    pages = device.sync()

    orders = [c["id"] for c in pages[0]["changes"] if c["type"] == "order"]
    assert orders == [str(o.id) for o in (soon_urgent, late_urgent, normal, low)]
    assert {c["id"] for c in pages[0]["changes"] if c["type"] == "reference"} == {
        "cause_codes", "resolution_codes"}
    assert all(c["version"] >= 1 for c in pages[0]["changes"])
    assert pages[-1]["has_more"] is False and pages[-1]["remaining"] == 0


def test_a_snapshot_comes_in_pages_with_progress(app, factory, tablet, reference_data):
    team = factory.team()
    orders = [factory.order(team=team) for _ in range(5)]
    device = tablet(team=team)

    pages = device.sync(limit=2)

    # 7 changes in pages of at most 2: the two reference lists, then the orders.
    assert [len(p["changes"]) for p in pages] == [2, 2, 2, 1]
    assert [p["has_more"] for p in pages] == [True, True, True, False]
    assert [p["remaining"] for p in pages[:3]] == [5, 3, 1]
    assert [p["scope_digest"] for p in pages[:3]] == [None, None, None]
    assert set(device.orders()) == {str(o.id) for o in orders}
    assert sum(1 for p in pages for c in p["changes"] if c["type"] == "order") == 5
    assert device.digest() == pages[-1]["scope_digest"] == expected_digest(app, team.id)


def test_a_snapshot_page_counts_media_against_the_limit_and_in_what_remains(
        app, factory, tablet, reference_data):
    team = factory.team()
    now = dt.datetime.now(dt.UTC)
    first = factory.order(team=team, priority="urgent", sla_arrive_by=now + HOUR)
    second = factory.order(team=team, priority="low", sla_arrive_by=now + HOUR)
    for _ in range(3):
        _add_media(app, first.id)
    _add_media(app, second.id)
    device = tablet(team=team)

    pages = device.sync(limit=3)

    # 8 changes: the 2 reference lists (the first order and its 3 media do not fit beside
    # them), that order with its media (over the limit, since nothing else is in its page),
    # then the second order with its one.
    assert [len(p["changes"]) for p in pages] == [2, 4, 2]
    assert [p["remaining"] for p in pages] == [6, 2, 0]
    assert device.digest() == pages[-1]["scope_digest"]


def test_changes_made_during_a_paged_snapshot_arrive_after_it(client, factory, tablet,
                                                               reference_data):
    team = factory.team()
    for _ in range(4):
        factory.order(team=team)
    device = tablet(team=team)
    first = device.pull_response(limit=4).get_json()  # the reference lists and two orders
    device.apply(first)
    sent = [c["id"] for c in first["changes"] if c["type"] == "order"]
    assert len(sent) == 2 and first["has_more"] is True
    edited = device.mutation("set_cause", sent[0], {"cause_code": "fuse_blown"})
    assert device.push(edited)[0]["status"] == "applied"
    added = factory.order(team=team, priority="urgent")  # sorts before the pages already sent
    device.cursor = first["cursor"]

    device.sync(limit=2)

    assert device.orders()[sent[0]]["data"]["cause"]["cause_code"] == "fuse_blown"
    assert str(added.id) in device.orders()
    assert device.digest() == device.last_page["scope_digest"]


def test_an_empty_delta_sends_nothing_and_the_same_digest(factory, tablet, reference_data):
    team = factory.team()
    factory.order(team=team)
    device = tablet(team=team)
    device.sync()
    digest = device.last_page["scope_digest"]

    page = device.sync()[-1]

    assert page["changes"] == [] and page["has_more"] is False and page["remaining"] == 0
    assert page["scope_digest"] == digest


def test_a_delta_carries_one_entry_per_entity_in_its_latest_state(app, factory, tablet,
                                                                    reference_data):
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    device.sync()
    for code in ("fuse_blown", "overload", "cable_fault"):
        device.push(device.mutation("set_cause", order.id, {"cause_code": code}))

    page = device.sync()[-1]

    assert [(c["type"], c["id"]) for c in page["changes"]] == [("order", str(order.id))]
    assert page["changes"][0]["data"]["cause"]["cause_code"] == "cable_fault"
    with app.app_context(), db.transaction() as session:
        assert page["changes"][0]["version"] == session.get(Order, order.id).version
    assert device.digest() == page["scope_digest"] == expected_digest(app, team.id)


def test_a_delta_is_paged_too(factory, tablet, reference_data):
    team = factory.team()
    orders = [factory.order(team=team) for _ in range(3)]
    device = tablet(team=team)
    device.sync()
    for order in orders:
        device.push(device.mutation("add_note", order.id, {"text": "checked"}))

    pages = device.sync(limit=1)

    assert [p["has_more"] for p in pages] == [True, True, False]
    assert [p["remaining"] for p in pages] == [2, 1, 0]
    assert device.digest() == pages[-1]["scope_digest"]


def test_an_order_assigned_to_my_team_arrives_whole_and_leaves_the_old_team(
        client, app, factory, tablet, reference_data):
    old_team, new_team = factory.team(), factory.team()
    order = factory.order(team=old_team)
    old_device, new_device = tablet(team=old_team), tablet(team=new_team)
    old_device.sync()
    new_device.sync()
    headers = factory.staff_headers("dispatcher")

    response = client.post(f"/api/v1/orders/{order.id}/assign", json={"team_id": str(new_team.id)},
                           headers=headers)
    assert response.status_code == 200, response.get_json()

    old_changes = old_device.sync()[-1]["changes"]
    assert old_changes == [{"type": "order", "op": "remove", "id": str(order.id),
                            "reason": "unassigned"}]
    new_changes = new_device.sync()[-1]["changes"]
    assert new_changes[0]["op"] == "upsert" and new_changes[0]["data"]["title"] == order.title
    assert old_device.digest() == old_device.last_page["scope_digest"]
    assert new_device.digest() == new_device.last_page["scope_digest"] == expected_digest(
        app, new_team.id)


def test_cancelled_and_closed_orders_are_removed_with_their_reason(client, app, factory, tablet,
                                                                    reference_data):
    team = factory.team()
    cancelled, closed = factory.order(team=team), factory.order(team=team)
    device = tablet(team=team)
    arrive_and_complete(device, closed.id)
    device.sync()
    headers = factory.staff_headers("dispatcher")
    assert client.post(f"/api/v1/orders/{cancelled.id}/cancel", json={"reason": "duplicate"},
                       headers=headers).status_code == 200
    with app.app_context(), db.transaction() as session:
        close_order(session, lock_order(session, closed.id), actor=SYSTEM)

    changes = device.sync()[-1]["changes"]

    assert sorted((c["id"], c["op"], c["reason"]) for c in changes) == sorted([
        (str(cancelled.id), "remove", "cancelled"), (str(closed.id), "remove", "closed")])
    assert device.orders() == {}
    assert device.digest() == device.last_page["scope_digest"]


def test_completed_orders_age_out_after_seven_days_as_expired(factory, tablet, reference_data):
    team = factory.team()
    order, fresh = factory.order(team=team), factory.order(team=team)
    device = tablet(team=team)
    week = 7 * 24 * 3_600_000
    arrive_and_complete(device, order.id, completed_ms=now_ms() - week + 1500)
    arrive_and_complete(device, fresh.id)
    device.sync()
    assert str(order.id) in device.orders()
    time.sleep(2)

    changes = device.sync()[-1]["changes"]

    assert changes == [{"type": "order", "op": "remove", "id": str(order.id), "reason": "expired"}]
    assert set(device.orders()) == {str(fresh.id)}
    assert device.digest() == device.last_page["scope_digest"]


def test_an_order_completed_after_the_snapshot_ages_out_too(app, factory, tablet,
                                                             reference_data):
    """The delta that brings the completion also says when the scope next ages."""
    team = factory.team()
    order, other = factory.order(team=team), factory.order(team=team)
    device = tablet(team=team)
    device.sync()
    week = 7 * 24 * 3_600_000
    arrive_and_complete(device, order.id, completed_ms=now_ms() - week + 1500)
    device.sync()
    assert device.orders()[str(order.id)]["data"]["status"] == "completed"
    assert device.digest() == device.last_page["scope_digest"] == expected_digest(app, team.id)
    time.sleep(2)

    changes = device.sync()[-1]["changes"]

    assert changes == [{"type": "order", "op": "remove", "id": str(order.id), "reason": "expired"}]
    assert set(device.orders()) == {str(other.id)}
    assert device.digest() == device.last_page["scope_digest"]


def test_the_customer_phone_is_hidden_once_the_order_is_completed(factory, tablet,
                                                                   reference_data):
    team = factory.team()
    order = factory.order(team=team, customer_phone="+86 791 555 0199")
    device = tablet(team=team)
    device.sync()
    assert device.orders()[str(order.id)]["data"]["customer"]["phone"] == "+86 791 555 0199"

    arrive_and_complete(device, order.id)
    device.sync()

    data = device.orders()[str(order.id)]["data"]
    assert data["status"] == "completed" and data["customer"]["phone"] is None


def test_media_come_with_their_order_and_when_they_change(app, client, factory, tablet,
                                                          reference_data):
    team, other = factory.team(), factory.team()
    order = factory.order(team=other)
    media_id = _add_media(app, order.id)
    device = tablet(team=team)
    device.sync()
    assert ("media", media_id) not in device.store

    assert client.post(f"/api/v1/orders/{order.id}/assign", json={"team_id": str(team.id)},
                       headers=factory.staff_headers("dispatcher")).status_code == 200
    device.sync()
    media = device.store[("media", media_id)]
    assert media["order_id"] == str(order.id) and media["data"]["sha256"] == "ab" * 32
    second = _add_media(app, order.id)
    device.sync()

    assert ("media", second) in device.store
    assert device.digest() == device.last_page["scope_digest"] == expected_digest(app, team.id)


def test_reference_data_changes_reach_every_device(app, factory, tablet, reference_data):
    device = tablet(team=factory.team())
    device.sync()
    with app.app_context(), db.transaction() as session:
        reference.put_reference_data(session, "cause_codes",
                                     {"codes": [{"code": "x", "label": "X"}]})

    changes = device.sync()[-1]["changes"]

    assert [(c["id"], c["version"], c["data"]) for c in changes] == [
        ("cause_codes", 2, {"codes": [{"code": "x", "label": "X"}]})]
    assert device.digest() == device.last_page["scope_digest"]


def test_a_malformed_or_tampered_cursor_is_invalid(factory, tablet):
    device = tablet(team=factory.team())
    cursor = device.pull_response().get_json()["cursor"]
    body, mac = cursor.split(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac

    for bad in ("garbage", "x.y", tampered, cursor + "x"):
        response = device.pull_response(bad)
        assert response.status_code == 400
        assert response.get_json()["code"] == "invalid_cursor"


def test_a_cursor_older_than_the_retained_log_has_expired(app, factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    cursor = device.pull_response().get_json()["cursor"]
    device.push(device.mutation("add_note", order.id, {"text": "one"}))
    device.push(device.mutation("add_note", order.id, {"text": "two"}))

    result = app.test_cli_runner().invoke(args=["prune-changes", "--days", "0"])

    assert result.exit_code == 0 and "deleted" in result.output
    response = device.pull_response(cursor)
    assert response.status_code == 410 and response.get_json()["code"] == "cursor_expired"
    assert device.pull_response().status_code == 200


def test_pruning_keeps_the_rows_inside_the_retention(app, factory, tablet):
    team = factory.team()
    factory.order(team=team)
    device = tablet(team=team)
    cursor = device.pull_response().get_json()["cursor"]

    result = app.test_cli_runner().invoke(args=["prune-changes"])

    assert result.exit_code == 0 and "deleted 0 change rows" in result.output
    assert device.pull_response(cursor).status_code == 200


def test_a_pull_records_the_device_sync_time(app, factory, tablet):
    device = tablet(team=factory.team())
    device.sync()
    with app.app_context(), db.transaction() as session:
        assert session.get(Device, device.device.id).last_sync_at is not None


def test_only_device_tokens_may_pull_or_push(client, factory):
    headers = factory.staff_headers("dispatcher")
    assert client.get("/api/v1/sync/pull", headers=headers).status_code == 401
    assert client.post("/api/v1/sync/push", json={"mutations": []},
                       headers=headers).status_code == 401


def test_a_device_that_pulls_too_often_is_told_to_wait(database_url, media_root, factory):
    from server import create_app
    from tests.conftest import test_settings

    limited = create_app({**test_settings(database_url, media_root),
                          "pull_min_interval": 30.0, "pull_burst": 2})
    device, token = factory.device(team=factory.team())
    client = limited.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    statuses = [client.get("/api/v1/sync/pull", headers=headers) for _ in range(3)]

    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].get_json()["code"] == "rate_limited"
    assert 1 <= int(statuses[2].headers["Retry-After"]) <= 30
    with limited.app_context():
        db.engine.dispose()


def test_the_digest_covers_orders_in_scope_only(app, factory, tablet, reference_data):
    team = factory.team()
    kept = factory.order(team=team)
    gone = factory.order(team=team)
    device = tablet(team=team)
    with app.app_context(), db.transaction() as session:
        session.execute(update(Order).where(Order.id == gone.id).values(status="cancelled"))
    device.sync()

    assert set(device.orders()) == {str(kept.id)}
    assert device.last_page["scope_digest"] == expected_digest(app, team.id) == device.digest()
    with app.app_context(), db.transaction() as session:
        assert session.scalar(select(Order.status).where(Order.id == gone.id)) == "cancelled"


def test_a_cursor_of_the_team_the_crew_member_left_has_expired(app, factory, tablet):
    team = factory.team()
    device = tablet(team=team)
    cursor = device.pull_response().get_json()["cursor"]
    other = factory.team()
    with app.app_context(), db.transaction() as session:
        session.execute(update(User).where(User.id == device.device.user_id)
                        .values(team_id=other.id))

    response = device.pull_response(cursor)

    assert response.status_code == 410 and response.get_json()["code"] == "cursor_expired"
