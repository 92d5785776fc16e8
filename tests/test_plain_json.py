"""Plain JSON values and canonical text: orjson's fast answers must be exactly the standard
library's (the audit chain's hashes depend on every byte)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

from hypothesis import example, given, settings
from hypothesis import strategies as st

from server.json_provider import to_rfc3339
from server.plain_json import canonical_json, jsonable
from sync.push import content_hash


def python_canonical(document):
    """PROTOCOL.md section 6, word for word."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def reference_jsonable(value):
    """What `jsonable` means, written as the plain recursion."""
    if isinstance(value, dt.datetime):
        return to_rfc3339(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): reference_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [reference_jsonable(item) for item in value]
    return value


finite_floats = st.floats(allow_nan=False, allow_infinity=False)
#: Floats where orjson and Python write different text, and around that range.
small_floats = st.floats(min_value=-2e-4, max_value=2e-4, allow_nan=False)
scalars = (st.none() | st.booleans() | st.integers() | finite_floats | small_floats
           | st.text())
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=30)

datetimes = st.datetimes(timezones=st.just(dt.UTC))
python_values = st.recursive(
    scalars | datetimes | st.uuids(), lambda inner: st.lists(inner, max_size=4)
    | st.tuples(inner, inner)
    | st.frozensets(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=6) | st.integers() | st.uuids(), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_json_is_pythons_text_for_any_document(document):
    assert canonical_json(document) == python_canonical(document)


def test_canonical_json_writes_small_floats_and_wide_integers_as_python_does():
    document = {"tiny": 1e-05, "smaller": [3.699778615151117e-06, -9.4e-05], "wide": 2**70,
                "text": "a,1e-5 and :0.00001", "accent": "café\u2028", "control": "\x00\x1f"}
    assert canonical_json(document) == python_canonical(document)
    assert '"tiny":1e-05' in canonical_json(document)


@settings(max_examples=400, deadline=None)
@given(python_values)
def test_jsonable_turns_any_value_into_its_plain_json(value):
    plain = jsonable(value)
    assert plain == reference_jsonable(value)
    assert canonical_json({"v": plain}) == python_canonical({"v": plain})


def test_jsonable_keeps_types_json_has_no_form_for():
    day = dt.date(2026, 11, 21)
    assert jsonable({"day": day, "at": dt.datetime(2026, 11, 21, 8, 15, 30, 125000, dt.UTC)}) \
        == {"day": day, "at": "2026-11-21T08:15:30.125Z"}


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6) | json_values)
@example(1e-05)  # a bare number: no delimiter before it for the look-back to find
@example(-2e-06)
def test_a_mutations_content_hash_is_the_one_stored_outcomes_were_hashed_with(raw):
    """A retry after an upgrade must find its stored outcome: same bytes, same hash."""
    stored = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                        default=str)
    assert content_hash(raw) == hashlib.sha256(stored.encode("utf-8")).hexdigest()
