"""Reports: dispatch KPIs per team and overall, as JSON or CSV (PROTOCOL.md section 8)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from flask import Response, current_app

from schemas.reports import KpiArgs, KpiReportSchema
from server.api import Blueprint
from server.auth import require_roles
from server.db import db
from server.domain.kpis import KpiQuery, compute_kpis, csv_rows
from server.domain.sla import followup_due_delta
from server.json_provider import to_rfc3339
from server.models.base import utcnow

blp = Blueprint("reports", __name__, description="KPI reports")

DEFAULT_RANGE = dt.timedelta(days=30)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return to_rfc3339(value)
    return value


@blp.route("/reports/kpis", methods=["GET"])
@require_roles("dispatcher", "admin", "agent")
@blp.arguments(KpiArgs, location="query")
@blp.response(200, KpiReportSchema)
@blp.alt_response(200, schema={"type": "string"}, content_type="text/csv", success=True,
                  description="The report (as CSV with `?format=csv`).")
def kpis(args: dict[str, Any]):
    """KPIs of the orders created in [from, to): times, SLA compliance, fix rate, satisfaction.

    `?format=csv` answers the same figures as `text/csv`: a header row, then one row for the
    whole range (`scope` overall) and one per team; nested names are joined with `_`
    (`sla_arrival_rate`), empty cells are nulls.
    """
    now = utcnow()
    end = args.get("to") or now
    query = KpiQuery(
        start=args.get("from_") or end - DEFAULT_RANGE,
        end=end,
        as_of=now,
        team_id=args.get("team_id"),
    )
    report = compute_kpis(
        db.session, query, followup_delay=followup_due_delta(current_app.config["SETTINGS"])
    )
    if args["format"] != "csv":
        return report
    header, rows = csv_rows(report)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_csv_value(value) for value in row] for row in rows)
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="kpis.csv"',
        },
    )
