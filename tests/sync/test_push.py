"""Push through HTTP: result codes, exactly once, rejections kept, skew bound, audit events."""

from __future__ import annotations

import json
import uuid

from server.db import db
from server.models import Device, Order
from tests.conftest import postgresql_only
from tests.sync.conftest import arrive_and_complete, captured_statements, iso, now_ms, plan_nodes

LOCATION = {"lat": 28.68, "lon": 115.86, "accuracy_m": 12}


def _order_row(app, order_id) -> Order:
    with app.app_context(), db.transaction() as session:
        return session.get(Order, order_id)


def _audit(client, factory, order_id) -> list[dict]:
    response = client.get(f"/api/v1/orders/{order_id}/audit", query_string={"limit": 500},
                          headers=factory.staff_headers("dispatcher"))
    assert response.status_code == 200
    return response.get_json()["items"]


def test_mutations_are_applied_in_order_and_move_the_status(app, client, factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    t = now_ms()

    results = device.push(
        device.mutation("depart", order.id, {"departed_at": iso(t - 9000)}),
        device.mutation("arrive", order.id, {"arrived_at": iso(t - 5000), "location": LOCATION}),
        device.mutation("set_cause", order.id, {"cause_code": "fuse_blown", "cause_text": "F3"}),
        device.mutation("set_eta", order.id, {"eta": iso(t + 3_600_000)}),
        device.mutation("add_note", order.id, {"text": "Spare fuse fitted"}),
        device.mutation("complete", order.id, {"completed_at": iso(t),
                                               "resolution_code": "replaced"}),
    )

    assert [r["status"] for r in results] == ["applied"] * 6
    assert [r["order_version"] for r in results] == sorted(r["order_version"] for r in results)
    row = _order_row(app, order.id)
    assert row.status == "completed" and row.version == results[-1]["order_version"]
    assert row.arrival["arrived_at"] == iso(t - 5000) and row.arrival["location"]["lat"] == 28.68
    assert row.cause["cause_code"] == "fuse_blown" and row.eta["eta"] == iso(t + 3_600_000)
    assert [n["text"] for n in row.notes] == ["Spare fuse fitted"]
    assert row.completion["resolution_code"] == "replaced"
    assert iso(int(row.completed_at.timestamp() * 1000)) == iso(t)


def test_every_applied_mutation_is_an_audit_event_with_its_decision(app, client, factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    first = device.mutation("set_cause", order.id, {"cause_code": "overload"})
    later = device.mutation("set_cause", order.id, {"cause_code": "fuse_blown"})

    results = device.push(later, first)

    assert [r["status"] for r in results] == ["applied", "merged"]
    events = [e for e in _audit(client, factory, order.id) if e["source"] == "device"]
    assert [e["mutation_id"] for e in events] == [later["id"], first["id"]]
    assert [e["hlc"] for e in events] == [later["hlc"], first["hlc"]]
    assert events[1]["decision"]["rule"] == "cause_last_writer_wins"
    assert events[1]["decision"]["winner"] == later["id"]
    assert events[0]["actor"]["device_id"] == str(device.device.id)
    assert _order_row(app, order.id).cause["cause_code"] == "fuse_blown"


def test_a_replayed_mutation_is_a_duplicate_with_its_original_outcome(app, factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    note = device.mutation("add_note", order.id, {"text": "once"})
    bad = device.mutation("set_eta", order.id, {"eta": "2026-11-21T10:00:00"})
    first = device.push(note, bad)

    again = device.push(note, bad)

    assert again[0] == {**first[0], "status": "duplicate", "original_status": "applied"}
    assert again[1]["status"] == "duplicate" and again[1]["original_status"] == "rejected"
    assert again[1]["code"] == "validation_error"
    assert len(_order_row(app, order.id).notes) == 1


def test_the_same_id_with_other_content_is_rejected_as_reused(factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    note = device.mutation("add_note", order.id, {"text": "first"})
    device.push(note)

    result = device.push({**note, "data": {"text": "second"}})[0]

    assert result["status"] == "rejected" and result["code"] == "mutation_id_reused"


def test_the_same_id_from_another_device_is_rejected_as_reused(factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    one, two = tablet(team=team), tablet(team=team)
    note = one.mutation("add_note", order.id, {"text": "first"})
    one.push(note)

    assert two.push(note)[0]["code"] == "mutation_id_reused"


def test_invalid_mutations_are_rejected_one_by_one_with_field_errors(app, factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    good = device.mutation("add_note", order.id, {"text": "fine"})
    naive = device.mutation("arrive", order.id, {"arrived_at": "2026-11-21T08:10:00",
                                                 "location": LOCATION})
    missing = device.mutation("complete", order.id, {"completed_at": iso(now_ms())})
    bad_hlc = {**device.mutation("add_note", order.id, {"text": "x"}), "hlc": "yesterday"}
    unknown = device.mutation("teleport", order.id, {})
    # Year 0 once in UTC: past what a datetime holds (it was a 500 for the whole push).
    year_zero = {**device.mutation("add_note", order.id, {"text": "x"}),
                 "at": "0001-01-01T00:00:00+01:00"}

    results = device.push(naive, good, missing, bad_hlc, unknown, "not an object", None,
                          year_zero)

    assert [r["status"] for r in results] == ["rejected", "applied", "rejected", "rejected",
                                              "rejected", "rejected", "rejected", "rejected"]
    assert all(r["code"] == "validation_error" for i, r in enumerate(results) if i != 1)
    assert "arrived_at" in results[0]["errors"]["data"]
    assert "resolution_code" in results[2]["errors"]["data"]
    assert "hlc" in results[3]["errors"] and "type" in results[4]["errors"]
    assert results[5]["id"] is None and results[6]["id"] is None
    assert "at" in results[7]["errors"]


def test_unknown_and_foreign_orders_are_rejected(factory, tablet):
    team = factory.team()
    foreign = factory.order(team=factory.team())
    device = tablet(team=team)

    results = device.push(
        device.mutation("add_note", uuid.uuid4(), {"text": "?"}),
        device.mutation("add_note", foreign.id, {"text": "?"}),
    )

    assert [(r["status"], r["code"]) for r in results] == [
        ("rejected", "order_not_found"), ("rejected", "not_in_scope")]


def test_a_completion_without_a_recorded_arrival_is_applied(app, factory, tablet):
    """Arrival and completion may come from two tablets in either order: both must count."""
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)

    result = device.push(device.mutation("complete", order.id, {
        "completed_at": iso(now_ms()), "resolution_code": "repaired"}))[0]

    assert result["status"] == "applied"
    assert _order_row(app, order.id).status == "completed"


def test_a_batch_over_the_limit_is_refused_whole(app, factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    batch = [device.mutation("add_note", order.id, {"text": str(i)}) for i in range(501)]

    response = device.push_response(batch)

    assert response.status_code == 413 and response.get_json()["code"] == "batch_too_large"
    assert _order_row(app, order.id).notes == []


def test_rejections_are_kept_and_listed_for_dispatchers(client, factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    device, other = tablet(team=team), tablet(team=team)
    elsewhere = factory.order(team=factory.team())
    device.push(device.mutation("add_note", uuid.uuid4(), {"text": "lost order"}),
                device.mutation("add_note", elsewhere.id, {"text": "not ours"}))
    other.push(other.mutation("set_eta", order.id, {"eta": "soon"}))
    headers = factory.staff_headers("dispatcher")

    everything = client.get("/api/v1/sync/rejections", headers=headers).get_json()
    by_device = client.get("/api/v1/sync/rejections", headers=headers,
                           query_string={"device_id": str(device.device.id)}).get_json()
    by_order = client.get("/api/v1/sync/rejections", headers=headers,
                          query_string={"order_id": str(order.id), "code": "validation_error"})
    paged = client.get("/api/v1/sync/rejections", headers=headers,
                       query_string={"limit": 2}).get_json()

    assert len(everything["items"]) == 3
    assert {r["code"] for r in by_device["items"]} == {"order_not_found", "not_in_scope"}
    [rejection] = by_order.get_json()["items"]
    assert rejection["payload"]["data"] == {"eta": "soon"} and rejection["errors"]["data"]["eta"]
    assert rejection["device_id"] == str(other.device.id)
    assert len(paged["items"]) == 2 and paged["next_cursor"]
    rest = client.get("/api/v1/sync/rejections", headers=headers,
                      query_string={"limit": 2, "cursor": paged["next_cursor"]}).get_json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    crew = client.get("/api/v1/sync/rejections", headers=factory.staff_headers("agent"))
    assert crew.status_code == 403


def test_a_stamp_far_ahead_is_treated_as_server_time_and_the_skew_recorded(app, client, factory,
                                                                          tablet):
    team = factory.team()
    order = factory.order(team=team)
    device, punctual = tablet(team=team), tablet(team=team)
    ahead = now_ms() + 10 * 60_000
    cause = device.mutation("set_cause", order.id, {"cause_code": "overload"}, wall_ms=ahead)
    arrive = device.mutation("arrive", order.id, {"arrived_at": iso(ahead), "location": LOCATION},
                             wall_ms=ahead)
    before = now_ms()

    device.push(cause, arrive)
    later = punctual.mutation("set_cause", order.id, {"cause_code": "fuse_blown"},
                              wall_ms=now_ms() + 5)
    assert punctual.push(later)[0]["status"] == "applied"

    with app.app_context(), db.transaction() as session:
        skew = session.get(Device, device.device.id).clock_skew_ms
    assert 9 * 60_000 < skew <= 10 * 60_000
    event = next(e for e in _audit(client, factory, order.id) if e["mutation_id"] == cause["id"])
    assert int(event["hlc"][:13]) <= now_ms() and event["decision"]["hlc_sent"] == cause["hlc"]
    arrived_at = _order_row(app, order.id).arrived_at.timestamp() * 1000
    assert before - 60_000 <= arrived_at <= now_ms() + 1000
    assert _order_row(app, order.id).cause["cause_code"] == "fuse_blown"


def test_report_location_keeps_the_newest_position_on_the_device(app, factory, tablet):
    device = tablet(team=factory.team())
    t = now_ms()
    newer = device.mutation("report_location", None, {"location": LOCATION, "at": iso(t)})
    older = device.mutation("report_location", None, {"location": {"lat": 1.0, "lon": 2.0},
                                                       "at": iso(t - 60_000)})

    results = device.push(newer, older)

    assert [r["status"] for r in results] == ["applied", "merged"]
    with app.app_context(), db.transaction() as session:
        stored = session.get(Device, device.device.id)
        assert stored.last_location["lat"] == 28.68
        assert abs(stored.last_location_at.timestamp() * 1000 - t) < 1000


def test_work_on_an_order_reassigned_meanwhile_is_stored_for_review(app, client, factory, tablet):
    team, other = factory.team(), factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    headers = factory.staff_headers("dispatcher")
    assert client.post(f"/api/v1/orders/{order.id}/assign", json={"team_id": str(other.id)},
                       headers=headers).status_code == 200

    result = device.push(device.mutation("set_cause", order.id, {"cause_code": "overload"}))[0]

    assert result["status"] == "merged"
    row = _order_row(app, order.id)
    assert row.needs_review and row.cause["cause_code"] == "overload" and row.status == "assigned"
    conflicts = client.get(f"/api/v1/orders/{order.id}/conflicts", headers=headers).get_json()
    assert [c["kind"] for c in conflicts["items"]] == ["work_after_reassignment"]


def test_work_on_an_order_cancelled_meanwhile_is_stored_for_review(app, client, factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    headers = factory.staff_headers("dispatcher")
    assert client.post(f"/api/v1/orders/{order.id}/cancel", json={"reason": "dup"},
                       headers=headers).status_code == 200

    result = device.push(device.mutation("arrive", order.id, {"arrived_at": iso(now_ms()),
                                                              "location": LOCATION}))[0]

    assert result["status"] == "merged"
    row = _order_row(app, order.id)
    assert row.needs_review and row.status == "cancelled" and row.arrival is not None
    kinds = client.get("/api/v1/conflicts", query_string={"open": "true"},
                       headers=headers).get_json()["items"]
    assert [c["kind"] for c in kinds] == ["work_after_cancellation"]


def test_a_completion_stamped_before_a_reopen_does_not_complete_it_again(app, client, factory,
                                                                        tablet):
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    stale_ms = now_ms()
    arrive_and_complete(device, order.id, completed_ms=stale_ms)
    headers = factory.staff_headers("dispatcher")
    assert client.post(f"/api/v1/orders/{order.id}/reopen", json={"reason": "still dark"},
                       headers=headers).status_code == 200

    stale = device.mutation("complete", order.id, {"completed_at": iso(stale_ms),
                                                   "resolution_code": "reset"}, wall_ms=stale_ms)
    result = device.push(stale)[0]

    assert result["status"] == "merged"
    row = _order_row(app, order.id)
    assert row.status == "assigned" and row.completion is None
    fresh = arrive_and_complete(device, order.id)
    assert fresh[1]["status"] == "applied"
    assert _order_row(app, order.id).status == "completed"


@postgresql_only("PostgreSQL's write statement; SQLite updates each outcome by its id")
def test_outcomes_are_stored_through_the_primary_key_whatever_the_statistics(app, factory,
                                                                            tablet):
    """The push's write finds the claimed outcome rows by their conflict on the primary key:
    no plan can scan `processed_mutations`, which grows from nothing and whose cached plans
    outlive the statistics they were made with (on a server without autovacuum, for ever)."""
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    with captured_statements(app, "INSERT INTO audit_events") as captured:
        results = device.push(device.mutation("add_note", order.id, {"text": "Checked."}))

    assert [r["status"] for r in results] == ["applied"]
    [(statement, parameters)] = captured
    scans = [node["Node Type"] for node in plan_nodes(app, statement, parameters)
             if node.get("Relation Name") == "processed_mutations"
             and node["Node Type"] != "ModifyTable"]
    assert scans == []


def test_a_push_records_the_device_sync_time_once_it_is_stale(app, client, factory, tablet):
    team = factory.team()
    device = tablet(team=team)
    location = {"location": LOCATION, "at": iso(now_ms())}

    device.push(device.mutation("report_location", None, location))
    first = _device_row(app, device.device.id).last_sync_at
    device.push(device.mutation("report_location", None, location))

    assert first is not None
    assert _device_row(app, device.device.id).last_sync_at == first  # fresh: not written again
    shown = client.get(f"/api/v1/devices/{device.device.id}",
                       headers=factory.staff_headers("admin")).get_json()
    assert shown["last_sync_at"] is not None


def _device_row(app, device_id) -> Device:
    with app.app_context(), db.transaction() as session:
        return session.get(Device, device_id)


def test_a_base_version_no_order_can_have_is_rejected_and_the_audit_chain_holds(
        app, client, factory, tablet):
    """An integer wider than 64 bits came back from the JSON column as a float, which broke
    the hash chain of the audit event that carried it."""
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    huge = device.mutation("add_note", order.id, {"text": "x"})
    huge["base_version"] = 123456789012345678901234567890

    response = client.post("/api/v1/sync/push", data=json.dumps({"mutations": [huge]}),
                           content_type="application/json", headers=device.headers)
    result = response.get_json()["results"][0]

    assert result["status"] == "rejected" and result["code"] == "validation_error"
    assert "base_version" in result["errors"]
    assert app.test_cli_runner().invoke(args=["verify-audit"]).exit_code == 0
