"""KPI report schemas (PROTOCOL.md section 8)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.base import Schema, UtcDateTime


class KpiArgs(Schema):
    from_ = UtcDateTime(
        data_key="from",
        metadata={
            "description": "Start of the range of creation times (inclusive); "
            "default: `to` - 30 days.",
        },
    )
    to = UtcDateTime(metadata={"description": "End of the range (exclusive); default: now."})
    team_id = fields.UUID()
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))

    @validates_schema
    def _ordered(self, data, **_kwargs):
        if "from_" in data and "to" in data and data["from_"] >= data["to"]:
            raise ValidationError("`from` must be before `to`.", "from")


class DurationSchema(Schema):
    count = fields.Integer()
    mean_minutes = fields.Float(allow_none=True)
    p90_minutes = fields.Float(allow_none=True)


class ComplianceSchema(Schema):
    met = fields.Integer()
    judged = fields.Integer()
    rate = fields.Float(allow_none=True)


class SlaComplianceSchema(Schema):
    arrival = fields.Nested(ComplianceSchema)
    completion = fields.Nested(ComplianceSchema)
    followup = fields.Nested(ComplianceSchema)


class FirstTimeFixSchema(Schema):
    fixed = fields.Integer()
    completed = fields.Integer()
    rate = fields.Float(allow_none=True)


class SatisfactionSchema(Schema):
    count = fields.Integer()
    mean = fields.Float(allow_none=True)


class BacklogSchema(Schema):
    new = fields.Integer()
    assigned = fields.Integer()
    en_route = fields.Integer()
    on_site = fields.Integer()
    completed = fields.Integer(metadata={"description": "Completed, awaiting follow-up."})


class MetricsSchema(Schema):
    orders = fields.Integer()
    time_to_arrive = fields.Nested(DurationSchema)
    time_to_complete = fields.Nested(DurationSchema)
    sla = fields.Nested(SlaComplianceSchema)
    first_time_fix = fields.Nested(FirstTimeFixSchema)
    satisfaction = fields.Nested(SatisfactionSchema)
    backlog = fields.Nested(BacklogSchema)


class TeamMetricsSchema(MetricsSchema):
    team_id = fields.UUID(allow_none=True, metadata={"description": "null: orders with no team."})
    team_name = fields.String(allow_none=True)


class KpiReportSchema(Schema):
    from_ = UtcDateTime(data_key="from", attribute="from")
    to = UtcDateTime()
    as_of = UtcDateTime()
    team_id = fields.UUID(allow_none=True)
    overall = fields.Nested(MetricsSchema)
    teams = fields.List(fields.Nested(TeamMetricsSchema))
