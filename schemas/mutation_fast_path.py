"""Loading the usual pushed mutation without marshmallow, with marshmallow as the authority.

Every pushed mutation is validated, and on a push of 20 marshmallow's `load` was a sixth of
the server's time. `load_mutation` handles the well-formed common case with plain checks and
returns exactly what `MutationSchema` and the type's data schema would return; for anything
else (an unknown key, a number as a string, a wrong value) it returns None and the caller
loads with marshmallow, which also words the errors. A property test holds the two together.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable
from typing import Any

from schemas.base import EARLIEST_YEAR, RFC3339_PATTERN
from schemas.sync import MAX_VERSION, MUTATION_TYPES
from sync import hlc


class _Defer(Exception):
    """Not the usual form: marshmallow decides."""


_MISSING = object()


def _uuid(value: Any) -> uuid.UUID:
    if type(value) is not str:
        raise _Defer
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _Defer from None


def _optional_uuid(value: Any) -> uuid.UUID | None:
    return None if value is None or value is _MISSING else _uuid(value)


def _time(value: Any) -> dt.datetime:
    if type(value) is not str or not RFC3339_PATTERN.fullmatch(value):
        raise _Defer
    try:
        moment = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise _Defer from None
    if moment.year < EARLIEST_YEAR:
        raise _Defer
    return moment


def _text(value: Any, shortest: int, longest: int) -> str:
    if type(value) is not str or not shortest <= len(value) <= longest or "\x00" in value:
        raise _Defer  # marshmallow refuses NUL (schemas.base.Schema)
    return value


def _optional_text(value: Any, longest: int) -> str | None:
    return None if value is None or value is _MISSING else _text(value, 0, longest)


def _number(value: Any, low: float, high: float) -> float:
    if type(value) not in (int, float):
        raise _Defer
    try:
        number = float(value)
    except OverflowError:
        raise _Defer from None
    if not math.isfinite(number) or not low <= number <= high:
        raise _Defer
    return number


def _location(value: Any) -> dict[str, Any]:
    if type(value) is not dict or not {"lat", "lon"} <= value.keys() <= _LOCATION_KEYS:
        raise _Defer
    location: dict[str, float | None] = {"lat": _number(value["lat"], -90, 90),
                                         "lon": _number(value["lon"], -180, 180)}
    if "accuracy_m" in value:
        accuracy = value["accuracy_m"]
        location["accuracy_m"] = None if accuracy is None else _number(accuracy, 0, math.inf)
    return location


_LOCATION_KEYS = {"lat", "lon", "accuracy_m"}


def _note(value: Any) -> str:
    text = _text(value, 1, 4000)
    if not text.strip():
        raise _Defer
    return text


#: Per type: the keys `data` may have, those it must have, and how to load it.
_DATA: dict[str, tuple[set[str], set[str], Callable[[dict], dict]]] = {
    "depart": ({"departed_at"}, {"departed_at"},
               lambda d: {"departed_at": _time(d["departed_at"])}),
    "arrive": ({"arrived_at", "location"}, {"arrived_at", "location"},
               lambda d: {"arrived_at": _time(d["arrived_at"]),
                          "location": _location(d["location"])}),
    "set_cause": ({"cause_code", "cause_text"}, {"cause_code"},
                  lambda d: {"cause_code": _text(d["cause_code"], 1, 64),
                             "cause_text": _optional_text(d.get("cause_text", _MISSING), 4000)}),
    "set_eta": ({"eta"}, {"eta"}, lambda d: {"eta": _time(d["eta"])}),
    "complete": ({"completed_at", "resolution_code", "resolution_text", "signature_media_id"},
                 {"completed_at", "resolution_code"},
                 lambda d: {"completed_at": _time(d["completed_at"]),
                            "resolution_code": _text(d["resolution_code"], 1, 64),
                            "resolution_text": _optional_text(d.get("resolution_text", _MISSING),
                                                              4000),
                            "signature_media_id": _optional_uuid(
                                d.get("signature_media_id", _MISSING))}),
    "add_note": ({"id", "text"}, {"text"},
                 lambda d: {"id": _optional_uuid(d.get("id", _MISSING)),
                            "text": _note(d["text"])}),
    "report_location": ({"location", "at"}, {"location", "at"},
                        lambda d: {"location": _location(d["location"]), "at": _time(d["at"])}),
}
_ENVELOPE_KEYS = {"id", "order_id", "type", "hlc", "at", "base_version", "data"}
_REQUIRED_KEYS = {"id", "type", "hlc", "at", "data"}
assert set(_DATA) == set(MUTATION_TYPES)


def load_mutation(raw: Any) -> dict[str, Any] | None:
    """The mutation as marshmallow would load it (envelope and data), or None to defer."""
    try:
        return _load(raw)
    except _Defer:
        return None


def _load(raw: Any) -> dict[str, Any]:
    if type(raw) is not dict or not _REQUIRED_KEYS <= raw.keys() <= _ENVELOPE_KEYS:
        raise _Defer
    kind, data, stamp = raw["type"], raw["data"], raw["hlc"]
    if type(kind) is not str or kind not in _DATA or type(data) is not dict \
            or type(stamp) is not str:
        raise _Defer
    allowed, required, load_data = _DATA[kind]
    if not required <= data.keys() <= allowed:
        raise _Defer
    try:
        hlc.parse(stamp)
    except ValueError:
        raise _Defer from None
    order_id = _optional_uuid(raw.get("order_id", _MISSING))
    if order_id is None and kind != "report_location":
        raise _Defer
    base_version = raw.get("base_version")
    if base_version is not None and (type(base_version) is not int
                                     or not 0 <= base_version <= MAX_VERSION):
        raise _Defer
    return {"id": _uuid(raw["id"]), "order_id": order_id, "type": kind, "hlc": stamp,
            "at": _time(raw["at"]), "base_version": base_version, "data": load_data(data)}
