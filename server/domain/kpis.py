"""Dispatch KPIs per team and overall, aggregated in the database (PROTOCOL.md section 8).

The cohort is the orders *created* in `[from, to)` (optionally of one team, by the order's
current team). Over it, as of `as_of` (the request time):

- time to arrive / to complete: `arrived_at - created_at`, `completed_at - created_at`, over
  the orders that have that time; mean and p90 in minutes. p90 is `percentile_cont(0.9)`
  (linear interpolation between the two nearest ranks), computed with window functions the
  same way on SQLite and PostgreSQL;
- SLA compliance per target, cancelled orders left out. Arrival: met when `arrived_at <=
  sla_arrive_by`; judged when the order arrived or its deadline passed before `as_of`.
  Completion likewise. Follow-up, counted per follow-up owed (an order reopened and completed
  again owes another): each visit that reached the customer is judged, and met when made by
  its due time; each order still awaiting its follow-up past the due time is judged and
  missed. `rate = met / judged` (null when nothing was judged);
- first-time fix: among orders ever completed (`completed_at` set or reopened at least once),
  the share never reopened;
- satisfaction: mean over the visits that recorded one;
- backlog: the cohort's orders now in each open status (`completed` = awaiting follow-up).

On-site times are the columns the sync engine sets from the device's event time corrected by
its clock skew, so an arrival recorded offline and synced hours later counts when it happened.

Three scans whatever the number of teams: one grouped aggregate over the orders, one over
their visits, one ranking for both p90s; the overall figures are summed from the team rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, and_, case, func, literal, or_, select, text, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from server.domain.sla import AWAITING_FOLLOWUP
from server.models.dispatch import Visit
from server.models.orders import Order
from server.models.people import Team

BACKLOG_STATUSES = ("new", "assigned", "en_route", "on_site", "completed")
TARGETS = ("arrival", "completion", "followup")
DURATIONS = {"time_to_arrive": "arrive", "time_to_complete": "complete"}
#: The key of the overall figures among the per-team ones (no team id is this string).
OVERALL = "overall"


class seconds_between(FunctionElement):  # noqa: N801 - reads as the SQL function it renders
    """`a - b` in seconds, as a float, on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({a}) - julianday({b})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_between_postgresql(element, compiler, **kw):
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({a} - {b})) AS DOUBLE PRECISION)"


@dataclass(frozen=True)
class KpiQuery:
    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime
    team_id: uuid.UUID | None = None


def _cohort(query: KpiQuery):
    conditions = [Order.created_at >= query.start, Order.created_at < query.end]
    if query.team_id is not None:
        conditions.append(Order.team_id == query.team_id)
    return and_(*conditions)


def _count_if(condition) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _order_totals(query: KpiQuery, followup_delay: dt.timedelta):
    """Counts and sums per team over the cohort's orders (sums, not means, so they add up)."""
    live = Order.status != "cancelled"
    return (
        select(
            Order.team_id,
            func.count().label("orders"),
            func.count(Order.arrived_at).label("arrive_count"),
            func.coalesce(func.sum(seconds_between(Order.arrived_at, Order.created_at)), 0).label(
                "arrive_sum"
            ),
            func.count(Order.completed_at).label("complete_count"),
            func.coalesce(func.sum(seconds_between(Order.completed_at, Order.created_at)), 0).label(
                "complete_sum"
            ),
            _count_if(and_(live, Order.arrived_at <= Order.sla_arrive_by)).label("arrival_met"),
            _count_if(
                and_(
                    live,
                    or_(
                        Order.arrived_at.is_not(None),
                        Order.sla_arrive_by < query.as_of,
                    ),
                )
            ).label("arrival_judged"),
            _count_if(and_(live, Order.completed_at <= Order.sla_complete_by)).label(
                "completion_met"
            ),
            _count_if(
                and_(
                    live,
                    or_(
                        Order.completed_at.is_not(None),
                        Order.sla_complete_by < query.as_of,
                    ),
                )
            ).label("completion_judged"),
            _count_if(
                and_(
                    Order.status.in_(AWAITING_FOLLOWUP),
                    Order.completed_at < query.as_of - followup_delay,
                )
            ).label("followup_missed_open"),
            _count_if(and_(Order.completed_at.is_not(None), Order.reopen_count == 0)).label(
                "ftf_fixed"
            ),
            _count_if(or_(Order.completed_at.is_not(None), Order.reopen_count > 0)).label(
                "ftf_completed"
            ),
            *(
                _count_if(Order.status == status).label(f"backlog_{status}")
                for status in BACKLOG_STATUSES
            ),
        )
        .where(_cohort(query))
        .group_by(Order.team_id)
    )


def _visit_totals(query: KpiQuery):
    """Per team: follow-ups made (reached visits), those on time, and satisfaction."""
    reached = Visit.reached.is_(True)
    return (
        select(
            Order.team_id,
            _count_if(reached).label("followup_reached"),
            _count_if(and_(reached, Visit.contacted_at <= Visit.due_at)).label("followup_met"),
            func.coalesce(func.sum(Visit.satisfaction), 0).label("sat_sum"),
            func.count(Visit.satisfaction).label("sat_n"),
        )
        .join(Order, Order.id == Visit.order_id)
        .where(_cohort(query), Order.status != "cancelled")
        .group_by(Order.team_id)
    )


def _p90s(session: Session, query: KpiQuery) -> dict[tuple[str, Any], float]:
    """percentile_cont(0.9) of each duration, per team and overall, in seconds.

    With n values (ranks 1..n) the 0.9 quantile lies at rank 1 + 0.9 (n - 1): the query keeps
    the two ranks around it, per team and overall, and the interpolation is done here,
    identically on both databases.
    """
    values = union_all(
        *(
            select(
                literal(metric).label("metric"),
                Order.team_id.label("team_id"),
                seconds_between(getattr(Order, f"{column}_at"), Order.created_at).label("v"),
            ).where(_cohort(query), getattr(Order, f"{column}_at").is_not(None))
            for metric, column in (("arrive", "arrived"), ("complete", "completed"))
        )
    ).subquery("durations")
    by_team = (values.c.metric, values.c.team_id)
    ranked = select(
        values.c.metric,
        values.c.team_id,
        values.c.v,
        func.row_number().over(partition_by=by_team, order_by=values.c.v).label("team_rank"),
        func.count().over(partition_by=by_team).label("team_n"),
        func.row_number().over(partition_by=values.c.metric, order_by=values.c.v).label("all_rank"),
        func.count().over(partition_by=values.c.metric).label("all_n"),
    ).subquery("ranked")

    def near_p90(rank, n):
        low = (n - 1) * 9 // 10 + 1
        return or_(rank == low, rank == low + 1)

    rows = session.execute(
        select(ranked).where(
            or_(
                near_p90(ranked.c.team_rank, ranked.c.team_n),
                near_p90(ranked.c.all_rank, ranked.c.all_n),
            )
        )
    )
    ranks: dict[tuple[str, Any], dict[int, float]] = defaultdict(dict)
    sizes: dict[tuple[str, Any], int] = {}
    for metric, team_id, value, team_rank, team_n, all_rank, all_n in rows:
        for key, rank, n in (
            ((metric, team_id), team_rank, team_n),
            ((metric, OVERALL), all_rank, all_n),
        ):
            ranks[key][rank] = float(value)
            sizes[key] = n
    result = {}
    for key, by_rank in ranks.items():
        n = sizes[key]
        low = (n - 1) * 9 // 10 + 1
        if low not in by_rank:
            continue
        fraction = ((n - 1) * 9 % 10) / 10
        high = by_rank.get(low + 1, by_rank[low])
        result[key] = by_rank[low] + fraction * (high - by_rank[low])
    return result


def _totals(session: Session, query: KpiQuery, followup_delay: dt.timedelta):
    """Totals per team id, plus their sum under OVERALL."""
    totals: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for statement in (_order_totals(query, followup_delay), _visit_totals(query)):
        for row in session.execute(statement).mappings():
            for name, value in row.items():
                if name != "team_id":
                    totals[row["team_id"]][name] += float(value or 0)
    overall: dict[str, float] = defaultdict(float)
    for team_totals in list(totals.values()):
        for name, value in team_totals.items():
            overall[name] += value
    return totals, overall


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def _rate(met: float, judged: float) -> float | None:
    return round(met / judged, 4) if judged else None


def _metrics(t: dict[str, float], p90: dict[str, float | None]) -> dict[str, Any]:
    def count(name: str) -> int:
        return int(t.get(name, 0))

    met = {
        "arrival": count("arrival_met"),
        "completion": count("completion_met"),
        "followup": count("followup_met"),
    }
    judged = {
        "arrival": count("arrival_judged"),
        "completion": count("completion_judged"),
        "followup": count("followup_reached") + count("followup_missed_open"),
    }
    durations = {}
    for label, metric in DURATIONS.items():
        n = count(f"{metric}_count")
        durations[label] = {
            "count": n,
            "mean_minutes": _minutes(t[f"{metric}_sum"] / n) if n else None,
            "p90_minutes": _minutes(p90.get(metric)),
        }
    return {
        "orders": count("orders"),
        **durations,
        "sla": {
            target: {
                "met": met[target],
                "judged": judged[target],
                "rate": _rate(met[target], judged[target]),
            }
            for target in TARGETS
        },
        "first_time_fix": {
            "fixed": count("ftf_fixed"),
            "completed": count("ftf_completed"),
            "rate": _rate(count("ftf_fixed"), count("ftf_completed")),
        },
        "satisfaction": {
            "count": count("sat_n"),
            "mean": round(t["sat_sum"] / count("sat_n"), 2) if count("sat_n") else None,
        },
        "backlog": {status: count(f"backlog_{status}") for status in BACKLOG_STATUSES},
    }


def compute_kpis(
    session: Session, query: KpiQuery, *, followup_delay: dt.timedelta
) -> dict[str, Any]:
    """The KPI report: `overall` and one entry per team that has orders in the cohort."""
    if session.get_bind().dialect.name == "postgresql":
        # The p90 ranking sorts every duration of the range: let it sort in memory, for this
        # transaction only, instead of spilling to disk past the default 4 MB.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    totals, overall = _totals(session, query, followup_delay)
    p90 = _p90s(session, query)
    team_ids = [team_id for team_id in totals if team_id is not None]
    names = (
        {
            team_id: name
            for team_id, name in session.execute(
                select(Team.id, Team.name).where(Team.id.in_(team_ids))
            )
        }
        if team_ids
        else {}
    )

    def p90_of(key: Any) -> dict[str, float | None]:
        return {metric: p90.get((metric, key)) for metric in DURATIONS.values()}

    teams = [
        {
            "team_id": team_id,
            "team_name": names.get(team_id),
            **_metrics(team_totals, p90_of(team_id)),
        }
        for team_id, team_totals in totals.items()
    ]
    teams.sort(key=lambda entry: (entry["team_name"] is None, entry["team_name"] or ""))
    return {
        "from": query.start,
        "to": query.end,
        "as_of": query.as_of,
        "team_id": query.team_id,
        "overall": _metrics(overall, p90_of(OVERALL)),
        "teams": teams,
    }


def csv_rows(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The report flattened: one row for overall, one per team; columns named by path."""

    def flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                flatten(f"{prefix}_{key}" if prefix else key, inner, out)
        else:
            out[prefix] = value

    rows = []
    scopes = [("overall", None, None, report["overall"])] + [
        (
            "team",
            team["team_id"],
            team["team_name"],
            {k: v for k, v in team.items() if k not in ("team_id", "team_name")},
        )
        for team in report["teams"]
    ]
    for scope, team_id, team_name, metrics in scopes:
        flat: dict[str, Any] = {"scope": scope, "team_id": team_id, "team_name": team_name}
        flatten("", metrics, flat)
        rows.append(flat)
    header = list(rows[0])
    return header, [[row[name] for name in header] for row in rows]
