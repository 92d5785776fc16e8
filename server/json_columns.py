"""JSON columns encoded and decoded with orjson: an order has about ten JSON columns, and
every pull and push reads or writes them, where the standard library is several times slower.

Anything orjson refuses (integers wider than 64 bits, NaN on the way in) goes through the
standard library, so a value that stored before still stores, and datetimes are still refused
rather than written in a second format.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def dumps_rows(rows: Any) -> str:
    """Rows for a statement that reads them as JSON: datetimes and UUIDs as RFC 3339 and text."""
    try:
        return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(rows, default=_as_text)


def _as_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
