"""The problem document of every error (RFC 9457), for the OpenAPI document.

Its own module, importing nothing of the server: the app's Api imports it while the `server`
package initialises, and `schemas.base` imports from `server`.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class ProblemSchema(ma.Schema):
    """The RFC 9457 problem document of every error (built by server.errors), for the docs."""

    class Meta:
        unknown = ma.INCLUDE  # members of particular problems: `current`, `retry_after`, ...

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    code = fields.String(required=True, metadata={
        "description": "Stable and machine-readable (PROTOCOL.md section 10)."})
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), metadata={
        "description": "Messages by field (nested for nested fields)."})
