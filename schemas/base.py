"""Base schema and field types shared by every resource schema."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
import orjson
from marshmallow import fields, validate

from server.json_provider import to_rfc3339

NUL_MESSAGE = "Must not contain the NUL character (U+0000)."


class Schema(ma.Schema):
    """Unknown fields are an error: a typo in a field name must not be silently ignored.

    So is a NUL character anywhere in the input, keys included: PostgreSQL can store none in
    text or JSON, so refusing it here keeps both backends alike and the database error out.
    """

    class Meta:
        unknown = ma.RAISE

    #: Fields the server decodes itself and never stores: a NUL there is damage like any other,
    #: with that field's own answer (a cursor's is 400 invalid_cursor).
    OPAQUE_FIELDS: frozenset[str] = frozenset()

    @ma.pre_load
    def _refuse_nul_characters(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        # Opaque fields are left out before the quick test too: a push's mutations (its whole
        # body) are judged one by one later, so encoding them here would be work for nothing.
        checked = {key: value for key, value in data.items() if key not in self.OPAQUE_FIELDS}
        if checked and _may_hold_nul(checked):
            fields_with_nul = [key for key, value in checked.items()
                               if _holds_nul(key) or _holds_nul(value)]
            if fields_with_nul:
                raise ma.ValidationError({key: [NUL_MESSAGE] for key in fields_with_nul})
        return data


def _may_hold_nul(data: Mapping) -> bool:
    """The quick test before the walk: orjson writes U+0000 as `\\u0000` (a push of 20
    mutations: 8 us, against 40 us for the walk)."""
    try:
        return b"\\u0000" in orjson.dumps(data)
    except orjson.JSONEncodeError:
        return True  # not plain JSON (query arguments, integers over 64 bits): walk it


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def without_nul(value: Any) -> Any:
    """`value` with every NUL in its strings and keys replaced by U+FFFD: what a database can
    keep of an input that was refused for carrying one (a rejected mutation is kept)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, Mapping):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


#: The form clients send (RFC 3339 with an offset): parsed by the standard library directly.
RFC3339_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)")
#: Before this year (in UTC) a time cannot be written back in the output format:
#: `to_rfc3339` keeps `strftime`'s unpadded years there, which audit hashes depend on.
EARLIEST_YEAR = 1000


class UtcDateTime(fields.AwareDateTime):
    """RFC 3339 in, normalised to UTC; `2026-11-21T08:15:30.125Z` out. Naive input is refused.

    The usual form takes a fast path (it is on every pushed mutation); anything else goes
    through marshmallow's parser, which also words the errors.
    """

    default_error_messages = {
        "invalid_awareness": "Not a valid datetime: an offset (Z or +hh:mm) is required.",
        "out_of_range": f"Not a valid datetime: the year in UTC must be {EARLIEST_YEAR} to 9999.",
    }

    def __init__(self, **kwargs):
        super().__init__(format="iso", default_timezone=None, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return to_rfc3339(value)

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = None
        if isinstance(value, str) and RFC3339_PATTERN.fullmatch(value):
            try:
                parsed = dt.datetime.fromisoformat(value)
            except ValueError:
                pass  # a date that does not exist: marshmallow words the error
        if parsed is None:
            parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = parsed.astimezone(dt.UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
            raise self.make_error("out_of_range") from None
        if moment.year < EARLIEST_YEAR:
            raise self.make_error("out_of_range")
        return moment


class LocationSchema(Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    accuracy_m = fields.Float(validate=validate.Range(min=0), allow_none=True)


class PaginationArgs(Schema):
    OPAQUE_FIELDS = frozenset({"cursor"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = fields.String(load_default=None)


class ListResponse(Schema):
    """`{"items": [...], "next_cursor": ...}`; subclasses set `items`."""

    next_cursor = fields.String(allow_none=True)
