"""Base schema and field types shared by every resource schema."""

from __future__ import annotations

import datetime as dt
import re

import marshmallow as ma
from marshmallow import fields, validate

from server.json_provider import to_rfc3339


class Schema(ma.Schema):
    """Unknown fields are an error: a typo in a field name must not be silently ignored."""

    class Meta:
        unknown = ma.RAISE


#: The form clients send (RFC 3339 with an offset): parsed by the standard library directly.
RFC3339_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)")


class UtcDateTime(fields.AwareDateTime):
    """RFC 3339 in, normalised to UTC; `2026-11-21T08:15:30.125Z` out. Naive input is refused.

    The usual form takes a fast path (it is on every pushed mutation); anything else goes
    through marshmallow's parser, which also words the errors.
    """

    default_error_messages = {
        "invalid_awareness": "Not a valid datetime: an offset (Z or +hh:mm) is required.",
    }

    def __init__(self, **kwargs):
        super().__init__(format="iso", default_timezone=None, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return to_rfc3339(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and RFC3339_PATTERN.fullmatch(value):
            try:
                return dt.datetime.fromisoformat(value).astimezone(dt.UTC)
            except ValueError:
                pass  # a date that does not exist: marshmallow words the error
        parsed = super()._deserialize(value, attr, data, **kwargs)
        return parsed.astimezone(dt.UTC)


class LocationSchema(Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    accuracy_m = fields.Float(validate=validate.Range(min=0), allow_none=True)


class PaginationArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = fields.String(load_default=None)


class ListResponse(Schema):
    """`{"items": [...], "next_cursor": ...}`; subclasses set `items`."""

    next_cursor = fields.String(allow_none=True)
