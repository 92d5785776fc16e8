"""Assignment rules: CRUD at /rules, and the first matching enabled rule assigns a new order."""

from __future__ import annotations

from typing import Any

import pytest

from server.db import db
from server.models import Team

NANCHANG = {"lat": 28.68, "lon": 115.86}
JIUJIANG = {"lat": 29.70, "lon": 116.00}


def add_rule(helpers, headers=None, **fields: Any) -> dict[str, Any]:
    body = {"name": "rule", "action": {"type": "best_suggestion"}, **fields}
    response = helpers.client.post(
        "/api/v1/rules", json=body, headers=headers or helpers.dispatcher
    )
    assert response.status_code == 201, response.json
    return response.json


def fixed(team) -> dict[str, Any]:
    return {"type": "fixed_team", "team_id": str(team.id)}


CONDITION_CASES = [
    ("source", {"source": ["hotline", "portal"]}, {"source": "portal"}, {"source": "patrol"}),
    ("kind", {"kind": ["installation"]}, {"kind": "installation"}, {"kind": "maintenance"}),
    ("priority", {"priority": ["urgent", "high"]}, {"priority": "urgent"}, {"priority": "low"}),
    (
        "skills all",
        {"required_skills": {"mode": "all", "skills": ["gas", "electrical"]}},
        {"required_skills": ["electrical", "gas", "welding"]},
        {"required_skills": ["gas"]},
    ),
    (
        "skills any",
        {"required_skills": {"mode": "any", "skills": ["gas", "water"]}},
        {"required_skills": ["water"]},
        {"required_skills": ["electrical"]},
    ),
    (
        "skills subset",
        {"required_skills": {"mode": "subset", "skills": ["gas", "electrical"]}},
        {"required_skills": ["gas"]},
        {"required_skills": ["gas", "welding"]},
    ),
    (
        "bbox",
        {"area": {"bbox": [28.5, 115.7, 28.9, 116.0]}},
        {"location": NANCHANG},
        {"location": JIUJIANG},
    ),
    (
        "radius",
        {"area": {"center": {"lat": 28.70, "lon": 115.86}, "radius_km": 5}},
        {"location": NANCHANG},
        {"location": JIUJIANG},
    ),
    (
        "area needs a location",
        {"area": {"bbox": [28.5, 115.7, 28.9, 116.0]}},
        {"location": NANCHANG},
        {"location": None},
    ),
    (
        "all conditions together",
        {"source": ["hotline"], "priority": ["urgent"]},
        {"source": "hotline", "priority": "urgent"},
        {"source": "hotline", "priority": "normal"},
    ),
]


@pytest.mark.parametrize(
    ("conditions", "matching", "other"),
    [case[1:] for case in CONDITION_CASES],
    ids=[case[0] for case in CONDITION_CASES],
)
def test_each_condition_type_assigns_matching_orders_and_leaves_others_new(
    helpers, factory, conditions, matching, other
):
    team = factory.team(skills=["electrical", "gas", "water", "welding"])
    add_rule(helpers, name="cond", conditions=conditions, action=fixed(team))

    assigned = helpers.create(**matching)
    untouched = helpers.create(**other)

    assert assigned["status"] == "assigned"
    assert assigned["assignment"]["team_id"] == str(team.id)
    assert untouched["status"] == "new"
    assert untouched["assignment"]["team_id"] is None
    assert helpers.events(untouched["id"], "auto_assign_skipped") == []


def test_the_first_matching_rule_by_position_wins_and_reordering_changes_it(helpers, factory):
    first_team, second_team = factory.team(name="First"), factory.team(name="Second")
    second = add_rule(helpers, name="second", position=20, action=fixed(second_team))
    add_rule(helpers, name="first", position=10, action=fixed(first_team))

    assert helpers.create()["assignment"]["team_id"] == str(first_team.id)

    response = helpers.client.patch(
        f"/api/v1/rules/{second['id']}", json={"position": 5}, headers=helpers.dispatcher
    )
    assert response.status_code == 200
    assert helpers.create()["assignment"]["team_id"] == str(second_team.id)


def test_an_order_created_with_an_assignment_is_not_touched_by_the_rules(helpers, factory):
    ruled, chosen = factory.team(name="Ruled"), factory.team(name="Chosen")
    add_rule(helpers, name="catch all", action=fixed(ruled))

    order = helpers.create(assignment={"team_id": str(chosen.id), "user_ids": []})

    assert order["assignment"]["team_id"] == str(chosen.id)
    [event] = helpers.events(order["id"], "assigned")
    assert event["source"] == "staff"


def test_a_disabled_rule_is_skipped(helpers, factory):
    skipped, used = factory.team(name="Skipped"), factory.team(name="Used")
    add_rule(helpers, name="off", position=1, enabled=False, action=fixed(skipped))
    add_rule(helpers, name="on", position=2, action=fixed(used))

    assert helpers.create()["assignment"]["team_id"] == str(used.id)


def test_best_suggestion_picks_the_nearest_team_with_every_required_skill(helpers, factory):
    factory.team(name="Nearest unqualified", lat=28.68, lon=115.86, skills=["electrical"])
    qualified = factory.team(name="Qualified", lat=28.78, lon=115.86, skills=["electrical", "gas"])
    factory.team(name="Far qualified", lat=29.68, lon=115.86, skills=["electrical", "gas"])
    rule = add_rule(helpers, name="nearest crew", action={"type": "best_suggestion"})

    order = helpers.create(location=NANCHANG, required_skills=["electrical", "gas"])

    assert order["status"] == "assigned"
    assert order["assignment"]["team_id"] == str(qualified.id)
    [event] = helpers.events(order["id"], "assigned")
    assert event["source"] == "system"
    assert event["actor"] == {"user_id": None, "device_id": None}
    assert event["details"]["rule_id"] == rule["id"]
    assert event["details"]["rule_name"] == "nearest crew"
    assert event["details"]["distance_km"] == pytest.approx(11.1195, abs=1e-3)
    assert event["changes"]["team_id"] == [None, str(qualified.id)]


def test_fixed_team_assignment_is_audited_with_its_rule(helpers, factory):
    team = factory.team(name="Night shift")
    rule = add_rule(
        helpers,
        name="urgent to night shift",
        conditions={"priority": ["urgent"]},
        action=fixed(team),
    )

    order = helpers.create(priority="urgent")

    [event] = helpers.events(order["id"], "assigned")
    assert event["details"] == {"rule_id": rule["id"], "rule_name": "urgent to night shift"}
    assert event["changes"]["status"] == ["new", "assigned"]


def test_when_no_team_qualifies_the_order_stays_new_and_the_skip_is_audited(helpers, factory):
    factory.team(skills=["electrical"])
    rule = add_rule(helpers, name="best", action={"type": "best_suggestion"})

    order = helpers.create(required_skills=["hydraulics"])

    assert order["status"] == "new"
    [event] = helpers.events(order["id"], "auto_assign_skipped")
    assert event["details"]["rule_id"] == rule["id"]
    assert "skill" in event["details"]["reason"]


def test_a_fixed_team_deactivated_after_the_rule_was_saved_leaves_the_order_new(
    helpers, factory, app
):
    team = factory.team()
    add_rule(helpers, name="fixed", action=fixed(team))
    with app.app_context(), db.transaction() as session:
        session.get(Team, team.id).active = False

    order = helpers.create()

    assert order["status"] == "new"
    assert len(helpers.events(order["id"], "auto_assign_skipped")) == 1


def test_rules_crud_lists_in_trial_order(helpers, factory):
    admin = factory.staff_headers("admin")
    team = factory.team()
    late = add_rule(helpers, name="late", position=50, action=fixed(team), headers=admin)
    early = add_rule(
        helpers,
        name="early",
        position=5,
        conditions={"area": {"center": {"lat": 28.7, "lon": 115.9}, "radius_km": 3}},
    )
    appended = add_rule(helpers, name="appended")

    assert appended["position"] == 60
    assert appended["enabled"] is True and appended["conditions"] == {}
    listing = helpers.client.get("/api/v1/rules", headers=admin).json
    assert [rule["name"] for rule in listing["items"]] == ["early", "late", "appended"]
    assert listing["next_cursor"] is None
    fetched = helpers.client.get(f"/api/v1/rules/{early['id']}", headers=admin).json
    assert fetched["conditions"]["area"] == {"center": {"lat": 28.7, "lon": 115.9}, "radius_km": 3}
    assert fetched["action"] == {"type": "best_suggestion"}
    patched = helpers.client.patch(
        f"/api/v1/rules/{late['id']}", json={"enabled": False, "name": "late (off)"}, headers=admin
    )
    assert patched.json["enabled"] is False and patched.json["name"] == "late (off)"
    assert patched.json["action"] == {"type": "fixed_team", "team_id": str(team.id)}
    deleted = helpers.client.delete(f"/api/v1/rules/{late['id']}", headers=admin)
    assert deleted.status_code == 204
    gone = helpers.client.get(f"/api/v1/rules/{late['id']}", headers=admin)
    assert gone.status_code == 404 and gone.json["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "action": {"type": "fixed_team"}}, "action"),
        ({"name": "x", "action": {"type": "teleport"}}, "action"),
        (
            {
                "name": "x",
                "action": {"type": "fixed_team", "team_id": "00000000-0000-4000-8000-000000000000"},
            },
            "action",
        ),
        (
            {
                "name": "x",
                "action": {"type": "best_suggestion"},
                "conditions": {"area": {"bbox": [29, 115, 28, 116]}},
            },
            "conditions",
        ),
        (
            {
                "name": "x",
                "action": {"type": "best_suggestion"},
                "conditions": {"area": {"center": {"lat": 28, "lon": 115}}},
            },
            "conditions",
        ),
        (
            {
                "name": "x",
                "action": {"type": "best_suggestion"},
                "conditions": {"priority": ["asap"]},
            },
            "conditions",
        ),
        (
            {"name": "x", "action": {"type": "best_suggestion"}, "conditions": {"colour": ["red"]}},
            "conditions",
        ),
    ],
)
def test_invalid_rules_are_refused_with_field_errors(helpers, body, field):
    response = helpers.client.post("/api/v1/rules", json=body, headers=helpers.dispatcher)

    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"]


@pytest.mark.parametrize("role", ["agent", "crew"])
def test_only_admins_and_dispatchers_manage_rules(helpers, factory, role):
    headers = factory.staff_headers(role)

    assert helpers.client.get("/api/v1/rules", headers=headers).status_code == 403
    assert helpers.client.post("/api/v1/rules", json={}, headers=headers).status_code == 403
