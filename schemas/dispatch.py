"""Dispatch suggestion schemas: the ranking of teams for an order, with the why of each score."""

from __future__ import annotations

from marshmallow import fields

from schemas.base import Schema, UtcDateTime


class SuggestionArgs(Schema):
    order_id = fields.UUID(required=True)


class SuggestedPositionSchema(Schema):
    lat = fields.Float()
    lon = fields.Float()


class SuggestionSchema(Schema):
    team_id = fields.UUID()
    team_name = fields.String(
        metadata={"description": "For labels: /teams is admin only, so a console reads it here."}
    )
    score = fields.Float(
        metadata={"description": "Weighted sum of the components, higher is better."}
    )
    qualified = fields.Boolean(metadata={"description": "The team has every required skill."})
    distance_km = fields.Float(
        allow_none=True,
        metadata={
            "description": "Great-circle (haversine, R = 6371 km) distance; "
            "null if the order has no location.",
        },
    )
    position = fields.Nested(SuggestedPositionSchema)
    position_source = fields.String(
        metadata={
            "description": "`device`: the newest report_location of a member's tablet within the "
            "freshness window; `base`: the team's base.",
        }
    )
    position_at = UtcDateTime(allow_none=True)
    skills_covered = fields.List(fields.String())
    skills_missing = fields.List(fields.String())
    open_orders = fields.Integer(metadata={"description": "Orders assigned, en_route or on_site."})
    components = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        metadata={
            "description": "distance = scale / (scale + km); skills = share covered; "
            "load = 1 / (1 + open_orders); each in [0, 1].",
        },
    )


class WeightsSchema(Schema):
    distance = fields.Float()
    skills = fields.Float()
    load = fields.Float()
    distance_scale_km = fields.Float()
    position_fresh_minutes = fields.Integer()


class SuggestionListSchema(Schema):
    order_id = fields.UUID()
    weights = fields.Nested(WeightsSchema)
    items = fields.List(fields.Nested(SuggestionSchema))
