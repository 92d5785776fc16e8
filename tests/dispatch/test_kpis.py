"""KPIs per team and overall, checked against figures computed by hand on a small fixed data set."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest

from server.db import db
from server.models import Visit
from server.models.base import utcnow
from tests.dispatch.conftest import iso

MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@pytest.fixture
def dataset(app, helpers, factory):
    """Eight orders created at BASE (one more outside the range), by hand:

    Alpha  a1 arrive 30m  complete 120m  closed, visit 5 on time
           a2 arrive 90m  complete 300m  completed, no follow-up yet (overdue)
           a3 arrive 50m  complete 200m  reopened once then closed, visit 3 late
           a4 assigned, never arrived (deadlines passed)
    Beta   b1 arrive 10m  complete 70m   closed, visit 4 on time
           b2 cancelled (deadlines passed: not judged)
           b3 en_route, deadlines in the future (not judged)
    none   u1 new, deadlines in the future
    Every order's SLA: arrive within 60 min, complete within 240 min, unless said otherwise.
    """
    base = (utcnow() - 10 * DAY).replace(minute=0, second=0, microsecond=0)
    alpha, beta = factory.team(name="Alpha"), factory.team(name="Beta")
    agent = factory.user("agent")
    deadlines = {"sla_arrive_by": base + 60 * MINUTE, "sla_complete_by": base + 240 * MINUTE}
    future = {"sla_arrive_by": utcnow() + DAY, "sla_complete_by": utcnow() + 2 * DAY}
    visits = []

    def make(team, status, arrive=None, complete=None, reopen_count=0, created=base, **sla):
        order = factory.order(team=team, **(sla or deadlines))
        helpers.set_order(
            order.id,
            created_at=created,
            status=status,
            reopen_count=reopen_count,
            arrived_at=base + arrive * MINUTE if arrive is not None else None,
            completed_at=base + complete * MINUTE if complete is not None else None,
        )
        return order

    def visit(order, completed_minutes, after, satisfaction):
        completed_at = base + completed_minutes * MINUTE
        visits.append(
            Visit(
                id=uuid.uuid4(),
                order_id=order.id,
                agent_id=agent.id,
                channel="phone",
                reached=True,
                contacted_at=completed_at + after,
                satisfaction=satisfaction,
                outcome="resolved",
                comment="",
                due_at=completed_at + 24 * HOUR,
            )
        )

    visit(make(alpha, "closed", 30, 120), 120, 2 * HOUR, 5)
    make(alpha, "completed", 90, 300)
    visit(make(alpha, "closed", 50, 200, reopen_count=1), 200, 30 * HOUR, 3)
    make(alpha, "assigned")
    visit(make(beta, "closed", 10, 70), 70, 1 * HOUR, 4)
    make(beta, "cancelled")
    make(beta, "en_route", **future)
    make(None, "new", **future)
    make(alpha, "closed", 5, 10, created=base - 40 * DAY)
    with app.app_context(), db.transaction() as session:
        session.add_all(visits)
    return {"base": base, "alpha": alpha, "beta": beta}


def kpis(helpers, query, headers=None):
    response = helpers.client.get(
        f"/api/v1/reports/kpis?{query}", headers=headers or helpers.dispatcher
    )
    assert response.status_code == 200, response.json
    return response


def range_query(dataset):
    base = dataset["base"]
    return f"from={iso(base - DAY)}&to={iso(base + DAY)}"


def test_kpis_per_team_match_the_hand_computed_figures(helpers, dataset):
    report = kpis(helpers, range_query(dataset)).json
    teams = {team["team_name"]: team for team in report["teams"]}

    alpha = teams["Alpha"]
    assert alpha["team_id"] == str(dataset["alpha"].id)
    assert alpha["orders"] == 4
    # arrive 30, 50, 90: mean 56.67; p90 at rank 1 + 0.9 * 2 = 2.8 -> 50 + 0.8 * 40 = 82
    assert alpha["time_to_arrive"] == {"count": 3, "mean_minutes": 56.67, "p90_minutes": 82.0}
    # complete 120, 200, 300: mean 206.67; p90 200 + 0.8 * 100 = 280
    assert alpha["time_to_complete"] == {"count": 3, "mean_minutes": 206.67, "p90_minutes": 280.0}
    assert alpha["sla"] == {
        "arrival": {"met": 2, "judged": 4, "rate": 0.5},
        "completion": {"met": 2, "judged": 4, "rate": 0.5},
        "followup": {"met": 1, "judged": 3, "rate": 0.3333},
    }
    assert alpha["first_time_fix"] == {"fixed": 2, "completed": 3, "rate": 0.6667}
    assert alpha["satisfaction"] == {"count": 2, "mean": 4.0}
    assert alpha["backlog"] == {
        "new": 0,
        "assigned": 1,
        "en_route": 0,
        "on_site": 0,
        "completed": 1,
    }

    beta = teams["Beta"]
    assert beta["orders"] == 3
    assert beta["time_to_arrive"] == {"count": 1, "mean_minutes": 10.0, "p90_minutes": 10.0}
    assert beta["time_to_complete"] == {"count": 1, "mean_minutes": 70.0, "p90_minutes": 70.0}
    assert beta["sla"]["arrival"] == {"met": 1, "judged": 1, "rate": 1.0}
    assert beta["sla"]["completion"] == {"met": 1, "judged": 1, "rate": 1.0}
    assert beta["sla"]["followup"] == {"met": 1, "judged": 1, "rate": 1.0}
    assert beta["first_time_fix"] == {"fixed": 1, "completed": 1, "rate": 1.0}
    assert beta["backlog"]["en_route"] == 1

    [unassigned] = [team for team in report["teams"] if team["team_id"] is None]
    assert unassigned["orders"] == 1
    assert unassigned["backlog"]["new"] == 1
    assert unassigned["sla"]["arrival"] == {"met": 0, "judged": 0, "rate": None}
    assert unassigned["time_to_arrive"] == {"count": 0, "mean_minutes": None, "p90_minutes": None}


def test_overall_kpis_match_the_hand_computed_figures(helpers, dataset):
    overall = kpis(helpers, range_query(dataset)).json["overall"]

    assert overall["orders"] == 8
    # arrive 10, 30, 50, 90: mean 45; p90 at rank 1 + 0.9 * 3 = 3.7 -> 50 + 0.7 * 40 = 78
    assert overall["time_to_arrive"] == {"count": 4, "mean_minutes": 45.0, "p90_minutes": 78.0}
    # complete 70, 120, 200, 300: mean 172.5; p90 200 + 0.7 * 100 = 270
    assert overall["time_to_complete"] == {"count": 4, "mean_minutes": 172.5, "p90_minutes": 270.0}
    assert overall["sla"] == {
        "arrival": {"met": 3, "judged": 5, "rate": 0.6},
        "completion": {"met": 3, "judged": 5, "rate": 0.6},
        "followup": {"met": 2, "judged": 4, "rate": 0.5},
    }
    assert overall["first_time_fix"] == {"fixed": 3, "completed": 4, "rate": 0.75}
    assert overall["satisfaction"] == {"count": 3, "mean": 4.0}
    assert overall["backlog"] == {
        "new": 1,
        "assigned": 1,
        "en_route": 1,
        "on_site": 0,
        "completed": 1,
    }


def test_kpis_of_one_team(helpers, dataset):
    report = kpis(helpers, f"{range_query(dataset)}&team_id={dataset['beta'].id}").json

    assert report["team_id"] == str(dataset["beta"].id)
    assert [team["team_name"] for team in report["teams"]] == ["Beta"]
    assert report["overall"]["orders"] == 3
    assert report["overall"]["time_to_complete"]["mean_minutes"] == 70.0


def test_a_range_with_no_orders_reports_zeros_and_nulls(helpers, dataset):
    base = dataset["base"]
    report = kpis(helpers, f"from={iso(base + 2 * DAY)}&to={iso(base + 3 * DAY)}").json

    assert report["overall"]["orders"] == 0
    assert report["overall"]["sla"]["arrival"]["rate"] is None
    assert report["overall"]["satisfaction"] == {"count": 0, "mean": None}
    assert report["teams"] == []


def test_kpis_as_csv_have_a_header_and_one_row_per_scope(helpers, dataset, factory):
    response = kpis(
        helpers, f"{range_query(dataset)}&format=csv", headers=factory.staff_headers("agent")
    )

    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    header = response.get_data(as_text=True).splitlines()[0].split(",")
    assert header[:4] == ["scope", "team_id", "team_name", "orders"]
    assert "sla_arrival_rate" in header and "backlog_completed" in header
    assert "time_to_arrive_p90_minutes" in header
    assert [(row["scope"], row["team_name"]) for row in rows] == [
        ("overall", ""),
        ("team", "Alpha"),
        ("team", "Beta"),
        ("team", ""),
    ]
    overall = rows[0]
    assert overall["orders"] == "8"
    assert overall["time_to_arrive_p90_minutes"] == "78.0"
    assert overall["sla_followup_rate"] == "0.5"
    assert rows[3]["sla_arrival_rate"] == ""


def test_kpi_arguments_are_validated_and_crews_are_refused(helpers, factory):
    backwards = helpers.client.get(
        "/api/v1/reports/kpis?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z",
        headers=helpers.dispatcher,
    )
    naive = helpers.client.get(
        "/api/v1/reports/kpis?from=2026-11-01T00:00:00", headers=helpers.dispatcher
    )
    crew = helpers.client.get("/api/v1/reports/kpis", headers=factory.staff_headers("crew"))

    assert backwards.status_code == 422 and "from" in backwards.json["errors"]
    assert naive.status_code == 422 and "from" in naive.json["errors"]
    assert crew.status_code == 403


def test_an_arrival_synced_late_counts_at_its_on_site_time(helpers, factory):
    """Arrived 10:05 (device time, corrected for skew), synced at 13:00, target 10:30: met."""
    day = (utcnow() - 2 * DAY).replace(hour=0, minute=0, second=0, microsecond=0)
    order = factory.order(
        team=factory.team(),
        sla_arrive_by=day.replace(hour=10, minute=30),
        sla_complete_by=day.replace(hour=16),
    )
    helpers.set_order(
        order.id,
        created_at=day.replace(hour=9, minute=50),
        status="on_site",
        arrived_at=day.replace(hour=10, minute=5),
        updated_at=day.replace(hour=13),
    )

    report = kpis(helpers, f"from={iso(day)}&to={iso(day + DAY)}").json

    assert report["overall"]["sla"]["arrival"] == {"met": 1, "judged": 1, "rate": 1.0}
    assert report["overall"]["time_to_arrive"]["mean_minutes"] == 15.0
