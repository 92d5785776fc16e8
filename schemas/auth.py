"""Login and device-token schemas."""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import fields, validate

from schemas.base import Schema, UtcDateTime
from schemas.people import UserSchema
from server.auth.tokens import IssuedToken


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 200))
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 1024))


class AccessTokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"description": "Seconds until the token expires."})
    user = fields.Nested(UserSchema)


class DeviceTokenSchema(Schema):
    """A device token as issued: shown once, only its `jti` is kept by the server."""

    device_token = fields.String()
    jti = fields.String()
    device_id = fields.UUID()
    expires_at = UtcDateTime()


def device_token_document(issued: IssuedToken, device_id: uuid.UUID) -> dict[str, Any]:
    return {"device_token": issued.token, "jti": issued.jti, "device_id": device_id,
            "expires_at": issued.expires_at}
