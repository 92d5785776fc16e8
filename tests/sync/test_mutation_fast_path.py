"""The push's fast mutation loader agrees with marshmallow: whenever it answers, marshmallow
loads the same mutation to the same values and types; when marshmallow refuses, it defers."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from schemas.mutation_fast_path import load_mutation
from schemas.sync import DATA_SCHEMAS, MUTATION_SCHEMA, MUTATION_TYPES

DEVICE = "3f2c9a0e-5b7d-4c1e-9a8b-0d6e2f4a1b3c"


def marshmallow_load(raw: Any) -> dict[str, Any] | None:
    try:
        mutation = MUTATION_SCHEMA.load(raw)
        mutation["data"] = DATA_SCHEMAS[mutation["type"]].load(mutation["data"])
    except ValidationError:
        return None
    return mutation


def typed(value: Any) -> Any:
    """Values with their types, so that 28 and 28.0 (or two time zones) differ."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, dt.datetime):
        return ("datetime", value.isoformat())
    return (type(value).__name__, value)


times = st.builds(
    lambda moment, digits, offset: (
        moment.strftime("%Y-%m-%dT%H:%M:%S")
        + (f".{moment.microsecond:06d}"[: digits + 1] if digits else "")
        + offset),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)),
    st.integers(0, 6), st.sampled_from(["Z", "+00:00", "+08:00", "-05:30"]))
numbers = st.one_of(st.integers(-200, 200), st.floats(-200, 200, allow_nan=False))
locations = st.fixed_dictionaries(
    {"lat": numbers, "lon": numbers},
    optional={"accuracy_m": st.one_of(st.none(), numbers)})
texts = st.one_of(st.text(max_size=70),
                  st.sampled_from([" ", "\t\n", "\u2003", "x" * 64, "x" * 65]))
uuids = st.uuids().map(str)

DATA = {
    "depart": st.fixed_dictionaries({"departed_at": times}),
    "arrive": st.fixed_dictionaries({"arrived_at": times, "location": locations}),
    "set_cause": st.fixed_dictionaries({"cause_code": texts},
                                       optional={"cause_text": st.one_of(st.none(), texts)}),
    "set_eta": st.fixed_dictionaries({"eta": times}),
    "complete": st.fixed_dictionaries(
        {"completed_at": times, "resolution_code": texts},
        optional={"resolution_text": st.one_of(st.none(), texts),
                  "signature_media_id": st.one_of(st.none(), uuids)}),
    "add_note": st.fixed_dictionaries({"text": texts},
                                      optional={"id": st.one_of(st.none(), uuids)}),
    "report_location": st.fixed_dictionaries({"location": locations, "at": times}),
}
stamps = st.builds(lambda wall, counter: f"{wall:013d}-{counter:04x}-{DEVICE}",
                   st.integers(10**12, 10**13 - 1), st.integers(0, 0xFFFF))


@st.composite
def mutations(draw) -> dict[str, Any]:
    kind = draw(st.sampled_from(MUTATION_TYPES))
    mutation = {"id": draw(uuids), "type": kind, "hlc": draw(stamps), "at": draw(times),
                "data": draw(DATA[kind])}
    if kind != "report_location" or draw(st.booleans()):
        mutation["order_id"] = draw(st.one_of(uuids, st.none()) if kind == "report_location"
                                    else uuids)
    if draw(st.booleans()):
        mutation["base_version"] = draw(st.one_of(st.none(), st.integers(0, 10**6)))
    return mutation


junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
    st.sampled_from(["", " ", "2026-02-30T10:00:00Z", "2026-11-21T10:00:00", "12", "1e3",
                     "not-a-uuid", str(uuid.uuid4()).upper(), "nan", 10**400, math.inf,
                     "1764000000000-0001-x", "2026-11-21 10:00:00Z", "\u00a0"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2))


@st.composite
def damaged(draw) -> dict[str, Any]:
    """A valid mutation with one key of the envelope, its data or its location changed,
    removed or added."""
    mutation = draw(mutations())
    targets = [mutation, mutation["data"]]
    if isinstance(mutation["data"].get("location"), dict):
        targets.append(mutation["data"]["location"])
    target = draw(st.sampled_from(targets))
    action = draw(st.sampled_from(["change", "remove", "add"]))
    if action == "add" or not target:
        target[draw(st.sampled_from(["extra", "Id", "lat", "text", "at"]))] = draw(junk)
    else:
        key = draw(st.sampled_from(sorted(target)))
        if action == "remove":
            del target[key]
        else:
            target[key] = draw(junk)
    return mutation


@settings(max_examples=500, deadline=None)
@given(mutations())
def test_the_fast_path_loads_what_marshmallow_loads(raw):
    """Every well-formed mutation (the generator's texts may be too long or blank: those are
    refused by both) is answered by the fast path, with marshmallow's values and types."""
    expected = marshmallow_load(raw)
    loaded = load_mutation(raw)
    if expected is None:
        assert loaded is None
    else:
        assert loaded is not None
        assert typed(loaded) == typed(expected)


@settings(max_examples=1500, deadline=None)
@given(damaged())
def test_whatever_the_fast_path_answers_marshmallow_answers_the_same(raw):
    loaded = load_mutation(raw)
    if loaded is not None:
        expected = marshmallow_load(raw)
        assert expected is not None, raw
        assert typed(loaded) == typed(expected)


def test_the_usual_mutations_take_the_fast_path():
    order_id = str(uuid.uuid4())
    raw = {"id": str(uuid.uuid4()), "order_id": order_id, "type": "arrive",
           "hlc": f"1764000000000-0001-{DEVICE}", "at": "2026-11-21T08:15:30.125Z",
           "base_version": 3,
           "data": {"arrived_at": "2026-11-21T08:15:30.125Z",
                    "location": {"lat": 28.68, "lon": 115, "accuracy_m": 12}}}
    loaded = load_mutation(raw)
    assert loaded is not None
    assert loaded["data"]["location"] == {"lat": 28.68, "lon": 115.0, "accuracy_m": 12.0}
    assert loaded["at"] == dt.datetime(2026, 11, 21, 8, 15, 30, 125000, tzinfo=dt.UTC)
    assert typed(loaded) == typed(marshmallow_load(raw))
