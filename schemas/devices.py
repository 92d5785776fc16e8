"""Tablet schemas: registration, enrollment and what dispatch sees of each device."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from schemas.base import ListResponse, PaginationArgs, Schema, UtcDateTime


class DeviceSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    platform = fields.String()
    user_id = fields.UUID()
    team_id = fields.Function(lambda device: device.user.team_id, allow_none=True)
    created_at = UtcDateTime()
    enrolled_at = UtcDateTime(allow_none=True)
    revoked_at = UtcDateTime(allow_none=True)
    app_version = fields.String(allow_none=True)
    device_info = fields.Dict(allow_none=True)
    last_sync_at = UtcDateTime(allow_none=True)
    last_seen_at = UtcDateTime(allow_none=True)
    last_location = fields.Dict(allow_none=True)
    last_location_at = UtcDateTime(allow_none=True)
    clock_skew_ms = fields.Integer(allow_none=True)


class DeviceCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    platform = fields.String(required=True, validate=validate.Length(1, 64))
    user_id = fields.UUID(required=True)


class DeviceRegisteredSchema(Schema):
    device = fields.Nested(DeviceSchema)
    enrollment_code = fields.String(
        metadata={"description": "One-time code for the tablet, XXXX-XXXX; shown once."}
    )
    enrollment_expires_at = UtcDateTime()


class DeviceInfoSchema(Schema):
    """What the tablet says about itself; fields beyond these are kept as sent."""

    class Meta(Schema.Meta):
        unknown = ma.INCLUDE

    app_version = fields.String(validate=validate.Length(1, 64))
    os_version = fields.String(validate=validate.Length(max=64))
    model = fields.String(validate=validate.Length(max=200))


class EnrollSchema(Schema):
    enrollment_code = fields.String(required=True, validate=validate.Length(1, 64))
    device_info = fields.Nested(DeviceInfoSchema, load_default=dict)


class DeviceListArgs(PaginationArgs):
    user_id = fields.UUID()
    team_id = fields.UUID()
    revoked = fields.Boolean()


class DeviceListSchema(ListResponse):
    items = fields.List(fields.Nested(DeviceSchema))
