"""Dispatch KPIs per team and overall, aggregated in the database (PROTOCOL.md section 8).

The cohort is the orders *created* in `[from, to)` (optionally of one team, by the order's
current team). Over it, as of `as_of` (the request time):

- time to arrive / to complete: `arrived_at - created_at`, `completed_at - created_at`, over
  the orders that have that time; mean and p90 in minutes. p90 is `percentile_cont(0.9)`
  (linear interpolation between the two nearest ranks), computed with window functions the
  same way on SQLite and PostgreSQL;
- SLA compliance per target, cancelled orders left out. Arrival: met when `arrived_at <=
  sla_arrive_by`; judged when the order arrived or its deadline passed before `as_of`.
  Completion likewise. Follow-up: met when a visit reached the customer by its due time;
  judged when met, when a visit reached the customer late, or when the order is still awaiting
  its follow-up past the due time. `rate = met / judged` (null when nothing was judged);
- first-time fix: among orders ever completed (`completed_at` set or reopened at least once),
  the share never reopened;
- satisfaction: mean over the visits that recorded one;
- backlog: the cohort's orders now in each open status (`completed` = awaiting follow-up).

On-site times are the columns the sync engine sets from the device's event time corrected by
its clock skew, so an arrival recorded offline and synced hours later counts when it happened.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, and_, case, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from server.domain.sla import AWAITING_FOLLOWUP
from server.models.dispatch import Visit
from server.models.orders import Order
from server.models.people import Team

BACKLOG_STATUSES = ("new", "assigned", "en_route", "on_site", "completed")


class seconds_between(FunctionElement):  # noqa: N801 - reads as the SQL function it renders
    """`a - b` in seconds, as a float, on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    a, b = list(element.clauses)
    return f"((julianday({compiler.process(a, **kw)}) - julianday({compiler.process(b, **kw)})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_between_postgresql(element, compiler, **kw):
    a, b = list(element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({compiler.process(a, **kw)} - {compiler.process(b, **kw)})) AS DOUBLE PRECISION)"


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


def _visit_summary():
    """Per order: satisfaction sum and count, and whether a visit reached the customer (on time)."""
    return (
        select(
            Visit.order_id.label("order_id"),
            func.sum(Visit.satisfaction).label("sat_sum"),
            func.count(Visit.satisfaction).label("sat_n"),
            func.max(case((Visit.reached.is_(True), 1), else_=0)).label("reached"),
            func.max(case((and_(Visit.reached.is_(True), Visit.contacted_at <= Visit.due_at), 1),
                          else_=0)).label("on_time"),
        )
        .group_by(Visit.order_id)
        .subquery("visit_summary")
    )


def _count_if(condition) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _aggregates(query: KpiQuery, followup_delay: dt.timedelta, grouped: bool):
    visits = _visit_summary()
    live = Order.status != "cancelled"
    arrived_on_time = and_(Order.arrived_at.is_not(None), Order.arrived_at <= Order.sla_arrive_by)
    completed_on_time = and_(
        Order.completed_at.is_not(None), Order.completed_at <= Order.sla_complete_by
    )
    followup_met = visits.c.on_time == 1
    followup_judged = or_(
        visits.c.reached == 1,
        and_(Order.status.in_(AWAITING_FOLLOWUP),
             Order.completed_at < query.as_of - followup_delay),
    )
    ever_completed = or_(Order.completed_at.is_not(None), Order.reopen_count > 0)
    columns = [
        func.count().label("orders"),
        func.count(Order.arrived_at).label("arrive_count"),
        func.avg(seconds_between(Order.arrived_at, Order.created_at)).label("arrive_mean"),
        func.count(Order.completed_at).label("complete_count"),
        func.avg(seconds_between(Order.completed_at, Order.created_at)).label("complete_mean"),
        _count_if(and_(live, arrived_on_time)).label("arrival_met"),
        _count_if(and_(live, Order.sla_arrive_by.is_not(None), or_(
            Order.arrived_at.is_not(None), Order.sla_arrive_by < query.as_of,
        ))).label("arrival_judged"),
        _count_if(and_(live, completed_on_time)).label("completion_met"),
        _count_if(and_(live, Order.sla_complete_by.is_not(None), or_(
            Order.completed_at.is_not(None), Order.sla_complete_by < query.as_of,
        ))).label("completion_judged"),
        _count_if(and_(live, followup_met)).label("followup_met"),
        _count_if(and_(live, followup_judged)).label("followup_judged"),
        _count_if(and_(Order.completed_at.is_not(None), Order.reopen_count == 0))
        .label("ftf_fixed"),
        _count_if(ever_completed).label("ftf_completed"),
        func.coalesce(func.sum(visits.c.sat_sum), 0).label("sat_sum"),
        func.coalesce(func.sum(visits.c.sat_n), 0).label("sat_n"),
        *(_count_if(Order.status == status).label(f"backlog_{status}")
          for status in BACKLOG_STATUSES),
    ]
    statement = select(*columns).select_from(Order).outerjoin(
        visits, visits.c.order_id == Order.id
    ).where(_cohort(query))
    if grouped:
        statement = statement.add_columns(Order.team_id).group_by(Order.team_id)
    return statement


def _p90(session: Session, query: KpiQuery, end_column, grouped: bool) -> dict[Any, float]:
    """percentile_cont(0.9) of `end_column - created_at` per group, in seconds.

    With n values (ranks 1..n) the 0.9 quantile lies at rank 1 + 0.9 (n - 1): the query keeps
    the two ranks around it and the interpolation is done here, identically on both databases.
    """
    value = seconds_between(end_column, Order.created_at)
    group = Order.team_id if grouped else literal(0)
    ranked = (
        select(
            group.label("grp"),
            value.label("v"),
            func.row_number().over(partition_by=group, order_by=value).label("rn"),
            func.count().over(partition_by=group).label("n"),
        )
        .where(_cohort(query), end_column.is_not(None))
        .subquery("ranked")
    )
    low_rank = (ranked.c.n - 1) * 9 // 10 + 1
    rows = session.execute(
        select(ranked.c.grp, ranked.c.rn, ranked.c.n, ranked.c.v)
        .where(or_(ranked.c.rn == low_rank, ranked.c.rn == low_rank + 1))
        .order_by(ranked.c.grp, ranked.c.rn)
    )
    values: dict[Any, dict[int, float]] = {}
    counts: dict[Any, int] = {}
    for grp, rn, n, v in rows:
        values.setdefault(grp, {})[rn] = float(v)
        counts[grp] = n
    result = {}
    for grp, by_rank in values.items():
        n = counts[grp]
        low = (n - 1) * 9 // 10 + 1
        fraction = ((n - 1) * 9 % 10) / 10
        low_value = by_rank[low]
        high_value = by_rank.get(low + 1, low_value)
        result[grp] = low_value + fraction * (high_value - low_value)
    return result


def _minutes(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / 60, 2)


def _rate(met: int, judged: int) -> float | None:
    return round(met / judged, 4) if judged else None


def _metrics(row: Any, p90_arrive: float | None, p90_complete: float | None) -> dict[str, Any]:
    return {
        "orders": row.orders,
        "time_to_arrive": {
            "count": row.arrive_count, "mean_minutes": _minutes(row.arrive_mean),
            "p90_minutes": _minutes(p90_arrive),
        },
        "time_to_complete": {
            "count": row.complete_count, "mean_minutes": _minutes(row.complete_mean),
            "p90_minutes": _minutes(p90_complete),
        },
        "sla": {
            target: {
                "met": getattr(row, f"{target}_met"),
                "judged": getattr(row, f"{target}_judged"),
                "rate": _rate(getattr(row, f"{target}_met"), getattr(row, f"{target}_judged")),
            }
            for target in ("arrival", "completion", "followup")
        },
        "first_time_fix": {
            "fixed": row.ftf_fixed, "completed": row.ftf_completed,
            "rate": _rate(row.ftf_fixed, row.ftf_completed),
        },
        "satisfaction": {
            "count": int(row.sat_n),
            "mean": round(float(row.sat_sum) / int(row.sat_n), 2) if row.sat_n else None,
        },
        "backlog": {status: getattr(row, f"backlog_{status}") for status in BACKLOG_STATUSES},
    }


def compute_kpis(
    session: Session, query: KpiQuery, *, followup_delay: dt.timedelta
) -> dict[str, Any]:
    """The KPI report: `overall` and one entry per team that has orders in the cohort."""
    overall_row = session.execute(_aggregates(query, followup_delay, grouped=False)).one()
    overall_arrive = _p90(session, query, Order.arrived_at, grouped=False).get(0)
    overall_complete = _p90(session, query, Order.completed_at, grouped=False).get(0)
    team_rows = list(session.execute(_aggregates(query, followup_delay, grouped=True)))
    team_arrive = _p90(session, query, Order.arrived_at, grouped=True)
    team_complete = _p90(session, query, Order.completed_at, grouped=True)
    names = {
        team_id: name for team_id, name in session.execute(select(Team.id, Team.name).where(
            Team.id.in_([row.team_id for row in team_rows if row.team_id is not None])
        ))
    }
    teams = [
        {
            "team_id": row.team_id,
            "team_name": names.get(row.team_id) if row.team_id else None,
            **_metrics(row, team_arrive.get(row.team_id), team_complete.get(row.team_id)),
        }
        for row in team_rows
    ]
    teams.sort(key=lambda entry: (entry["team_name"] is None, entry["team_name"] or ""))
    return {
        "from": query.start,
        "to": query.end,
        "as_of": query.as_of,
        "team_id": query.team_id,
        "overall": _metrics(overall_row, overall_arrive, overall_complete),
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
    for scope, team_id, team_name, metrics in [
        ("overall", None, None, report["overall"]),
        *(("team", t["team_id"], t["team_name"],
           {k: v for k, v in t.items() if k not in ("team_id", "team_name")})
          for t in report["teams"]),
    ]:
        flat: dict[str, Any] = {"scope": scope, "team_id": team_id, "team_name": team_name}
        flatten("", metrics, flat)
        rows.append(flat)
    header = list(rows[0])
    return header, [[row[name] for name in header] for row in rows]

