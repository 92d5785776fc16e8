"""Plain JSON values and their canonical text, done by orjson where its answer is the same.

Every audit event turns its `changes` into plain JSON and hashes their canonical text
(PROTOCOL.md section 6), and a note's `changes` carry the order's whole notes list twice: done
in Python, these two cost a push more than its merge once an order had a few dozen notes.
orjson does both several times faster, but not always to the same result, so each function
falls back to the standard library wherever orjson's answer could differ:

- `jsonable`: orjson refuses non-string keys, integers wider than 64 bits and types it does not
  know; those values take the recursive walk, which turns keys into strings and leaves unknown
  types as they are.
- `canonical_json`: PROTOCOL.md defines it as `json.dumps(..., sort_keys=True,
  separators=(",", ":"), ensure_ascii=False)`. orjson writes the same text except for floats
  below 1e-4 (`0.00001` and `1e-6` where Python writes `1e-05` and `1e-06`), so text in which
  a number token might be one of those is encoded again by the standard library.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

import orjson

from server.json_provider import to_rfc3339

_PLAIN = frozenset((str, int, float, bool, type(None)))
_JSONABLE_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_CANONICAL_OPTIONS = orjson.OPT_SORT_KEYS
#: What may come before a number token, and what a float token's mantissa is made of.
_DELIMITERS = ":[,"
_MANTISSA = frozenset("0123456789.")
#: A negative exponent ending a number token (the literal start keeps the search fast).
_NEGATIVE_EXPONENT = re.compile(r"e-\d+[,\]}]")


def jsonable(value: Any) -> Any:
    """`value` with datetimes as RFC 3339 strings, UUIDs as text, tuples and sets as lists and
    every key a string: what a JSON column stores and the audit trail serves."""
    if type(value) in _PLAIN:
        return value
    try:
        return orjson.loads(orjson.dumps(value, default=_jsonable_default,
                                         option=_JSONABLE_OPTIONS))
    except orjson.JSONEncodeError:
        return _walk(value)


def _jsonable_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return to_rfc3339(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError  # the walk decides (orjson reports it as JSONEncodeError)


def _walk(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {key if type(key) is str else str(key):
                item if type(item) in _PLAIN else _walk(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _PLAIN else _walk(item) for item in value]
    if isinstance(value, dt.datetime):
        return to_rfc3339(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _walk(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_walk(v) for v in value]
    return value


def canonical_json(document: Any) -> str:
    """The canonical text of a plain JSON document, as PROTOCOL.md section 6 defines it.

    The look-back of `_may_differ` needs a delimiter before every number, which only an
    object's text promises: any other value is encoded by the standard library.
    """
    text = None
    if type(document) is dict:
        try:
            text = orjson.dumps(document, option=_CANONICAL_OPTIONS).decode()
        except orjson.JSONEncodeError:
            pass
    if text is None or _may_differ(text):
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text


def _may_differ(text: str) -> bool:
    """Whether `text` may hold a number token below 1e-4: `0.0000...` or a negative exponent.

    Found by literal searches and a look back from each hit (a regex that must try every
    delimiter cost more than Python's encoding). Strings that happen to hold such a token only
    send the document to the standard library.
    """
    at = text.find("0.0000")
    while at != -1:
        if _starts_number(text, at):
            return True
        at = text.find("0.0000", at + 6)
    for match in _NEGATIVE_EXPONENT.finditer(text):
        start = at = match.start()
        while text[start - 1] in _MANTISSA:
            start -= 1
        if start < at and _starts_number(text, start):
            return True
    return False


def _starts_number(text: str, at: int) -> bool:
    """Whether a number token starts at `at`, maybe after a minus (the text is an object, so
    something always comes before it)."""
    before = text[at - 1]
    return before in _DELIMITERS or (before == "-" and text[at - 2] in _DELIMITERS)
