"""Team and user schemas: what admins send and what the API serves (never a password)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from schemas.base import ListResponse, LocationSchema, PaginationArgs, Schema, UtcDateTime
from server.models.people import ROLES

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._@-]*$"


class BaseLocationSchema(LocationSchema):
    """A team's base: a point, no accuracy."""

    class Meta(LocationSchema.Meta):
        exclude = ("accuracy_m",)


class TeamSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    base_location = fields.Nested(BaseLocationSchema, required=True)
    skills = fields.List(fields.String(validate=validate.Length(1, 64)), load_default=list)
    active = fields.Boolean(load_default=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class TeamOutSchema(TeamSchema):
    """A team as served: the base location is read from its two columns."""

    base_location = fields.Method("_base_location")

    @staticmethod
    def _base_location(team) -> dict[str, float]:
        return {"lat": team.base_lat, "lon": team.base_lon}


class TeamPatchSchema(Schema):
    """Only the fields sent change."""

    name = fields.String(validate=validate.Length(1, 200))
    base_location = fields.Nested(BaseLocationSchema)
    skills = fields.List(fields.String(validate=validate.Length(1, 64)))
    active = fields.Boolean()


class TeamListArgs(PaginationArgs):
    active = fields.Boolean()


class TeamListSchema(ListResponse):
    items = fields.List(fields.Nested(TeamOutSchema))


class UserCreateSchema(Schema):
    username = fields.String(
        required=True,
        validate=[validate.Length(3, 80), validate.Regexp(
            USERNAME_PATTERN, error="Use lower-case letters, digits and . _ @ - only.")],
    )
    password = fields.String(required=True, load_only=True, validate=validate.Length(8, 1024))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    display_name = fields.String(load_default="", validate=validate.Length(max=200))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    team_id = fields.UUID(load_default=None, allow_none=True)

    def load(self, data: Any, **kwargs: Any) -> Any:
        """Usernames are case-insensitive: stored and looked up in lower case."""
        if isinstance(data, dict) and isinstance(data.get("username"), str):
            data = {**data, "username": data["username"].strip().lower()}
        return super().load(data, **kwargs)


class UserSchema(Schema):
    id = fields.UUID()
    username = fields.String()
    role = fields.String()
    display_name = fields.String()
    phone = fields.String(allow_none=True)
    team_id = fields.UUID(allow_none=True)
    active = fields.Boolean()
    created_at = UtcDateTime()
    deactivated_at = UtcDateTime(allow_none=True)


class UserListArgs(PaginationArgs):
    role = fields.String(validate=validate.OneOf(ROLES))
    team_id = fields.UUID()
    active = fields.Boolean()


class UserListSchema(ListResponse):
    items = fields.List(fields.Nested(UserSchema))
