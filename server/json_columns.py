"""JSON columns encoded and decoded with orjson: an order has about ten JSON columns, and
every pull and push reads or writes them, where the standard library is several times slower.

Anything orjson refuses (integers wider than 64 bits, NaN on the way in) goes through the
standard library, so a value that stored before still stores, and datetimes are still refused
rather than written in a second format.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
