"""GET /dispatch/suggestions ranks teams by distance, skills and open load, and says why."""

from __future__ import annotations

import datetime as dt

import pytest

from server.db import db
from server.models import Device
from server.models.base import utcnow

#: Great-circle distances from the order at (28.68, 115.86), by hand: R = 6371 km,
#: 0.02 deg of latitude = 6371 * 0.02 * pi / 180 = 2.2239 km; 0.1 deg = 11.1195 km;
#: 1 deg = 111.1949 km; 0.1 deg of longitude at 28.68 N (haversine) = 9.7553 km.
ORDER_AT = {"lat": 28.68, "lon": 115.86}


def suggest(helpers, order_id, headers=None):
    response = helpers.client.get(
        f"/api/v1/dispatch/suggestions?order_id={order_id}", headers=headers or helpers.dispatcher
    )
    assert response.status_code == 200, response.json
    return response.json


def by_name(result):
    return {item["team_name"]: item for item in result["items"]}


def test_teams_rank_by_great_circle_distance_from_their_base(helpers, factory):
    factory.team(name="North 11km", lat=28.78, lon=115.86, skills=[])
    factory.team(name="Near 2km", lat=28.70, lon=115.86, skills=[])
    factory.team(name="East 9.8km", lat=28.68, lon=115.96, skills=[])
    order = helpers.create(location=ORDER_AT)

    result = suggest(helpers, order["id"])

    assert [item["team_name"] for item in result["items"]] == [
        "Near 2km",
        "East 9.8km",
        "North 11km",
    ]
    teams = by_name(result)
    assert teams["Near 2km"]["distance_km"] == pytest.approx(2.2239, abs=1e-3)
    assert teams["East 9.8km"]["distance_km"] == pytest.approx(9.7553, abs=1e-3)
    assert teams["North 11km"]["distance_km"] == pytest.approx(11.1195, abs=1e-3)
    near = teams["Near 2km"]
    assert near["position_source"] == "base" and near["position_at"] is None
    assert near["position"] == {"lat": 28.70, "lon": 115.86}
    # distance component = 10 / (10 + 2.2239); skills 1 (none required); load 1 (no open orders)
    assert near["components"]["distance"] == pytest.approx(10 / 12.2239, abs=1e-4)
    assert near["components"]["skills"] == 1.0 and near["components"]["load"] == 1.0
    assert near["score"] == pytest.approx(0.5 * 10 / 12.2239 + 0.3 + 0.2, abs=1e-4)
    assert result["weights"] == {
        "distance": 0.5,
        "skills": 0.3,
        "load": 0.2,
        "distance_scale_km": 10.0,
        "position_fresh_minutes": 30,
    }


def test_a_fresh_device_position_replaces_the_base_and_a_stale_one_does_not(helpers, factory):
    roaming = factory.team(name="Roaming", lat=29.68, lon=115.86, skills=[])
    parked = factory.team(name="Parked", lat=28.78, lon=115.86, skills=[])
    now = utcnow()
    older, _ = factory.device(team=roaming)
    newest, _ = factory.device(team=roaming)
    stale, _ = factory.device(team=parked)
    helpers.place_device(older, 28.68, 115.96, now - dt.timedelta(minutes=20))
    helpers.place_device(newest, 28.70, 115.86, now - dt.timedelta(minutes=5))
    helpers.place_device(stale, 28.68, 115.86, now - dt.timedelta(minutes=45))
    order = helpers.create(location=ORDER_AT)

    teams = by_name(suggest(helpers, order["id"]))

    assert teams["Roaming"]["position_source"] == "device"
    assert teams["Roaming"]["distance_km"] == pytest.approx(2.2239, abs=1e-3)
    assert teams["Roaming"]["position"] == {"lat": 28.70, "lon": 115.86}
    assert teams["Roaming"]["position_at"] is not None
    assert teams["Parked"]["position_source"] == "base"
    assert teams["Parked"]["distance_km"] == pytest.approx(11.1195, abs=1e-3)


def test_a_revoked_device_position_is_ignored(helpers, factory, app):
    team = factory.team(name="Far base", lat=29.68, lon=115.86, skills=[])
    device, _ = factory.device(team=team)
    helpers.place_device(device, 28.68, 115.86, utcnow() - dt.timedelta(minutes=1))
    with app.app_context(), db.transaction() as session:
        session.get(Device, device.id).revoked_at = utcnow()
    order = helpers.create(location=ORDER_AT)

    teams = by_name(suggest(helpers, order["id"]))

    assert teams["Far base"]["position_source"] == "base"
    assert teams["Far base"]["distance_km"] == pytest.approx(111.1949, abs=1e-3)


def test_skills_coverage_and_open_load_shape_the_ranking(helpers, factory):
    complete = factory.team(name="Complete", lat=28.70, lon=115.86, skills=["electrical", "gas"])
    factory.team(name="Partial", lat=28.70, lon=115.86, skills=["electrical"])
    busy = factory.team(name="Busy", lat=28.70, lon=115.86, skills=["gas", "electrical"])
    factory.order(team=busy)
    factory.order(team=busy)
    finished = factory.order(team=busy)  # completed: not open load
    helpers.set_order(finished.id, status="completed", completed_at=utcnow())
    factory.order(team=complete)
    order = helpers.create(location=ORDER_AT, required_skills=["electrical", "gas"])

    result = suggest(helpers, order["id"])
    teams = by_name(result)

    assert [item["team_name"] for item in result["items"]] == ["Complete", "Busy", "Partial"]
    assert teams["Partial"]["skills_covered"] == ["electrical"]
    assert teams["Partial"]["skills_missing"] == ["gas"]
    assert teams["Partial"]["components"]["skills"] == 0.5
    assert teams["Partial"]["qualified"] is False
    assert teams["Busy"]["open_orders"] == 2
    assert teams["Busy"]["components"]["load"] == pytest.approx(1 / 3, abs=1e-4)
    assert teams["Complete"]["open_orders"] == 1
    assert teams["Complete"]["qualified"] is True


def test_inactive_teams_are_not_suggested(helpers, factory, app):
    from server.models import Team

    gone = factory.team(name="Disbanded", lat=28.68, lon=115.86)
    factory.team(name="Active", lat=28.70, lon=115.86)
    with app.app_context(), db.transaction() as session:
        session.get(Team, gone.id).active = False
    order = helpers.create(location=ORDER_AT)

    assert [item["team_name"] for item in suggest(helpers, order["id"])["items"]] == ["Active"]


def test_an_order_without_location_ranks_on_skills_and_load_only(helpers, factory):
    factory.team(name="Any", lat=28.70, lon=115.86, skills=[])
    order = helpers.create(location=None)

    item = suggest(helpers, order["id"])["items"][0]

    assert item["distance_km"] is None
    assert item["components"]["distance"] == 0.0
    assert item["score"] == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("role", ["agent", "crew"])
def test_only_dispatchers_and_admins_ask_for_suggestions(helpers, factory, role):
    order = helpers.create()

    response = helpers.client.get(
        f"/api/v1/dispatch/suggestions?order_id={order['id']}", headers=factory.staff_headers(role)
    )

    assert response.status_code == 403


def test_suggestions_for_an_unknown_order_are_404_and_without_order_id_422(helpers, factory):
    admin = factory.staff_headers("admin")
    unknown = helpers.client.get(
        "/api/v1/dispatch/suggestions?order_id=00000000-0000-4000-8000-000000000000", headers=admin
    )
    missing = helpers.client.get("/api/v1/dispatch/suggestions", headers=admin)

    assert unknown.status_code == 404 and unknown.json["code"] == "not_found"
    assert missing.status_code == 422 and "order_id" in missing.json["errors"]
