"""Tablets: registration, enrollment, device tokens and revocation (PROTOCOL.md section 2)."""

from __future__ import annotations

import uuid

from flask import current_app
from flask.views import MethodView

from schemas.auth import DeviceTokenSchema, device_token_document
from schemas.devices import (
    DeviceCreateSchema,
    DeviceListArgs,
    DeviceListSchema,
    DeviceRegisteredSchema,
    DeviceSchema,
    EnrollSchema,
)
from server.api import Blueprint
from server.auth import require_roles
from server.db import db
from server.domain import devices

blp = Blueprint("devices", __name__, description="Crew tablets and their device tokens")


@blp.route("/devices")
class Devices(MethodView):
    @require_roles("admin")
    @blp.arguments(DeviceListArgs, location="query")
    @blp.response(200, DeviceListSchema)
    def get(self, args):
        """List devices and what they last reported; filter by user, team, revoked (admin)."""
        return devices.list_devices(
            db.session, limit=args["limit"], cursor=args["cursor"], user_id=args.get("user_id"),
            team_id=args.get("team_id"), revoked=args.get("revoked"),
        ).as_dict()

    @require_roles("admin")
    @blp.arguments(DeviceCreateSchema)
    @blp.response(201, DeviceRegisteredSchema)
    def post(self, fields):
        """Register a crew member's tablet; answers its one-time enrollment code (admin)."""
        device, code, expires_at = devices.register_device(
            db.session, current_app.config["SETTINGS"], fields
        )
        return {"device": device, "enrollment_code": code, "enrollment_expires_at": expires_at}


@blp.route("/devices/enroll", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(EnrollSchema)
@blp.response(200, DeviceTokenSchema)
def enroll(body):
    """Exchange a one-time enrollment code for the device token (no auth; each code works once).

    An unknown, expired, already used or revoked device's code answers 422 `validation_error`
    with `errors.enrollment_code`. The code is case-insensitive and dashes are ignored.
    """
    device, issued = devices.enroll(
        db.session, current_app.config["SETTINGS"], body["enrollment_code"], body["device_info"]
    )
    return device_token_document(issued, device.id)


@blp.route("/devices/<uuid:device_id>")
@require_roles("admin")
@blp.response(200, DeviceSchema)
def get_device(device_id: uuid.UUID):
    """Read one device: last sync, app version, last location and observed clock skew (admin)."""
    return devices.get_device(db.session, device_id)


@blp.route("/devices/<uuid:device_id>/tokens", methods=["POST"])
@require_roles("admin")
@blp.response(201, DeviceTokenSchema)
@blp.alt_response(409, description="The device is revoked or its user deactivated.")
def issue_token(device_id: uuid.UUID):
    """Issue a device token directly, without enrollment; it is shown only this once (admin)."""
    issued = devices.issue_token_for(db.session, current_app.config["SETTINGS"], device_id)
    return device_token_document(issued, device_id)


@blp.route("/devices/<uuid:device_id>/revoke", methods=["POST"])
@require_roles("admin")
@blp.response(200, DeviceSchema)
def revoke(device_id: uuid.UUID):
    """Revoke the device and all its tokens: its next request is 401 `device_revoked` (admin)."""
    return devices.revoke_device(db.session, device_id)
