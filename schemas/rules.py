"""Assignment rule schemas: ordered conditions on new orders and the action to take."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.base import ListResponse, LocationSchema, Schema, UtcDateTime
from server.models.orders import KINDS, PRIORITIES, SOURCES


class SkillsConditionSchema(Schema):
    mode = fields.String(
        load_default="all",
        validate=validate.OneOf(("all", "any", "subset")),
        metadata={
            "description": "all: the order requires every listed skill; "
            "any: at least one; subset: nothing beyond the listed ones."
        },
    )
    skills = fields.List(fields.String(validate=validate.Length(1, 64)), required=True)


class CenterSchema(LocationSchema):
    class Meta(LocationSchema.Meta):
        exclude = ("accuracy_m",)


class AreaSchema(Schema):
    """Either a bounding box or a circle."""

    bbox = fields.List(
        fields.Float(),
        validate=validate.Length(equal=4),
        metadata={
            "description": "[min_lat, min_lon, max_lat, max_lon]",
        },
    )
    center = fields.Nested(CenterSchema)
    radius_km = fields.Float(validate=validate.Range(min=0, min_inclusive=False))

    @validates_schema
    def _one_shape(self, data, **_kwargs):
        if "bbox" in data:
            if "center" in data or "radius_km" in data:
                raise ValidationError("Give either bbox or center with radius_km, not both.")
            min_lat, min_lon, max_lat, max_lon = data["bbox"]
            if not (-90 <= min_lat <= max_lat <= 90 and -180 <= min_lon <= max_lon <= 180):
                raise ValidationError(
                    "bbox must be [min_lat, min_lon, max_lat, max_lon] with min <= max.", "bbox"
                )
        elif "center" not in data or "radius_km" not in data:
            raise ValidationError("An area is a bbox, or a center with a radius_km.")


class ConditionsSchema(Schema):
    source = fields.List(fields.String(validate=validate.OneOf(SOURCES)))
    kind = fields.List(fields.String(validate=validate.OneOf(KINDS)))
    priority = fields.List(fields.String(validate=validate.OneOf(PRIORITIES)))
    required_skills = fields.Nested(SkillsConditionSchema)
    area = fields.Nested(AreaSchema)


class ActionSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(("best_suggestion", "fixed_team")))
    team_id = fields.UUID()

    @validates_schema
    def _team_for_fixed(self, data, **_kwargs):
        if data.get("type") == "fixed_team" and data.get("team_id") is None:
            raise ValidationError("A fixed_team action needs a team_id.", "team_id")
        if data.get("type") == "best_suggestion" and "team_id" in data:
            raise ValidationError("best_suggestion takes no team_id.", "team_id")


class RuleSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    position = fields.Integer(
        metadata={
            "description": "Rules are tried by ascending position; default: after the last rule.",
        }
    )
    enabled = fields.Boolean(load_default=True)
    conditions = fields.Nested(ConditionsSchema, load_default=dict)
    action = fields.Nested(ActionSchema, required=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class RulePatchSchema(Schema):
    """Only the fields sent change; `conditions` and `action` are replaced whole."""

    name = fields.String(validate=validate.Length(1, 200))
    position = fields.Integer()
    enabled = fields.Boolean()
    conditions = fields.Nested(ConditionsSchema)
    action = fields.Nested(ActionSchema)


class RuleListSchema(ListResponse):
    items = fields.List(fields.Nested(RuleSchema))
