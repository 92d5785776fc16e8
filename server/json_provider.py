"""orjson-backed JSON provider: responses are encoded several times faster than stdlib json."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return to_rfc3339(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_rfc3339(value: dt.datetime) -> str:
    """UTC, millisecond precision, `Z` suffix: the one output format of PROTOCOL.md section 1.

    `isoformat` truncates to milliseconds like the `strftime` form, at half its cost (a snapshot
    page formats four times per order); only years before 1000, which `strftime` writes
    unpadded, still take that form.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    elif value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    if value.year < 1000:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


class OrjsonProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        # Datetimes go through `_default` (milliseconds and Z) instead of orjson's own format.
        option = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
        if kwargs.get("sort_keys"):
            option |= orjson.OPT_SORT_KEYS
        return orjson.dumps(obj, default=_default, option=option).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

