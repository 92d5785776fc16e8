"""Staff login and device-token refresh (PROTOCOL.md section 2)."""

from __future__ import annotations

from flask import current_app

from schemas.auth import AccessTokenSchema, DeviceTokenSchema, LoginSchema, device_token_document
from server.api import Blueprint
from server.auth import current_principal, require_device, tokens
from server.db import db
from server.domain.devices import get_device, issue_device_token, signing_keys
from server.domain.people import check_credentials

blp = Blueprint("auth", __name__, description="Staff login and device-token refresh")

INVALID_CREDENTIALS_DOC = (
    "Wrong username or password, or a deactivated user: always the same problem document, "
    "`code` `invalid_credentials`, so the answer never reveals whether a username exists."
)


@blp.route("/auth/login", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(LoginSchema)
@blp.response(200, AccessTokenSchema)
@blp.alt_response(401, description=INVALID_CREDENTIALS_DOC)
def login(credentials):
    """Exchange a username and password for a short-lived staff access token."""
    settings = current_app.config["SETTINGS"]
    user = check_credentials(db.session, settings, credentials["username"],
                             credentials["password"])
    issued = tokens.issue(signing_keys(settings), typ="access", subject=user.id,
                          ttl_seconds=settings.access_token_ttl)
    return {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl,
        "user": user,
    }


@blp.route("/auth/refresh", methods=["POST"])
@require_device
@blp.response(200, DeviceTokenSchema)
def refresh():
    """Get a fresh device token; the current one stays valid until it expires (device token)."""
    settings = current_app.config["SETTINGS"]
    device = get_device(db.session, current_principal().device_id)
    issued = issue_device_token(db.session, settings, device)
    return device_token_document(issued, device.id)

