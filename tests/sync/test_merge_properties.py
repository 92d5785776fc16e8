"""Property tests of the pure merge rules: commutative, idempotent, monotone, grow-only."""

from __future__ import annotations

import copy
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from sync import merge

BASE_MS = 1_795_000_000_000
NODES = ("dev-a", "dev-b", "dev-c")


def _iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@st.composite
def mutations(draw, index: int):
    kind = draw(st.sampled_from(("depart", "arrive", "set_cause", "set_eta", "complete",
                                 "add_note")))
    wall = BASE_MS + draw(st.integers(0, 50)) * 1000
    node = draw(st.sampled_from(NODES))
    stamp = f"{wall:013d}-{draw(st.integers(0, 3)):04x}-{node}"
    event = _iso(wall - draw(st.integers(0, 5)) * 1000)
    data = {
        "depart": lambda: {"departed_at": event},
        "arrive": lambda: {"arrived_at": event,
                           "location": {"lat": draw(st.floats(-1, 1)), "lon": 0.0}},
        "set_cause": lambda: {"cause_code": draw(st.sampled_from(("fuse_blown", "overload"))),
                              "cause_text": None},
        "set_eta": lambda: {"eta": _iso(wall + 3_600_000)},
        "complete": lambda: {"completed_at": event,
                             "resolution_code": draw(st.sampled_from(("repaired", "reset"))),
                             "resolution_text": None, "signature_media_id": None},
        "add_note": lambda: {"id": draw(st.sampled_from(("n1", "n2", f"n-{index}"))),
                             "text": draw(st.sampled_from(("a", "b")))},
    }[kind]()
    return {"id": f"m-{index:03d}", "type": kind, "hlc": stamp, "at": _iso(wall),
            "device_id": node, "data": data, "corrected_at": event,
            "foreign": draw(st.booleans()) and draw(st.booleans())}


@st.composite
def scenarios(draw):
    count = draw(st.integers(1, 9))
    batch = [draw(mutations(i)) for i in range(count)]
    status = draw(st.sampled_from(("assigned", "en_route", "on_site", "cancelled", "closed")))
    state = merge.empty_state(status)
    if draw(st.booleans()):
        state["reopened_at"] = _iso(BASE_MS + draw(st.integers(0, 50)) * 1000)
    return state, batch


def run(state, batch):
    for mutation in batch:
        state, _ = merge.apply(state, mutation)
    return state


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_any_order_of_the_same_mutations_gives_the_same_state(scenario, rng):
    state, batch = scenario
    shuffled = list(batch)
    rng.shuffle(shuffled)
    first, second = run(state, batch), run(state, shuffled)
    assert first == second
    assert merge.project(first) == merge.project(second)


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_applying_a_mutation_twice_changes_nothing(scenario):
    state, batch = scenario
    once = run(state, batch)
    twice = run(state, [m for mutation in batch for m in (mutation, mutation)])
    assert once == twice
    assert run(once, batch) == once


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_applying_a_mutation_leaves_the_states_before_it_untouched(scenario):
    """The merge copies only two levels deep, so no step may change an entry in place."""
    state, batch = scenario
    history = [copy.deepcopy(state)]
    states = [state]
    for mutation in batch:
        state, _ = merge.apply(state, mutation)
        states.append(state)
        history.append(copy.deepcopy(state))
    assert states == history


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_status_never_moves_backwards(scenario):
    state, batch = scenario
    for mutation in batch:
        new, _ = merge.apply(state, mutation)
        if state["status"] == "cancelled":
            assert new["status"] == "cancelled"
        else:
            assert merge.STATUS_RANK[new["status"]] >= merge.STATUS_RANK[state["status"]]
        state = new


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_a_state_stored_in_the_order_row_reads_back_whole(scenario):
    state, batch = scenario
    merged = run(state, batch)
    stored = merge.field_state_from_state({"reopened_at": merged["reopened_at"]}, merged)
    shown = merge.project(merged)["notes"]
    assert all(set(kept) == set(merge.NOTE_MERGE_KEYS) for kept in stored["notes"].values())
    assert merge.state_from_field_state(stored, merged["status"], merged["needs_review"],
                                        shown) == merged
    # Merge state stored before notes were kept apart (whole notes) reads back the same.
    whole = {**stored, "notes": merged["notes"]}
    assert merge.state_from_field_state(whole, merged["status"], merged["needs_review"],
                                        shown) == merged


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_grow_only_sets_never_drop_anything(scenario):
    state, batch = scenario
    for mutation in batch:
        new, _ = merge.apply(state, mutation)
        for key in merge.SET_KEYS:
            assert set(state[key]) <= set(new[key])
            if key != "notes":  # one note id sent twice keeps the text stamped first
                for item_id, item in state[key].items():
                    assert new[key][item_id] == item
        state = new
    notes = {m["data"]["id"] for m in batch if m["type"] == "add_note"}
    assert {note["id"] for note in merge.project(state)["notes"]} == notes


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_winners_follow_the_rules_of_the_protocol(scenario):
    state, batch = scenario
    final = merge.project(run(state, batch))
    arrivals = [m for m in batch if m["type"] == "arrive"]
    if arrivals:
        earliest = min(arrivals, key=lambda m: (m["data"]["arrived_at"], m["hlc"], m["id"]))
        assert final["arrival"]["mutation_id"] == earliest["id"]
    causes = [m for m in batch if m["type"] == "set_cause"]
    if causes:
        latest = max(causes, key=lambda m: (m["hlc"], m["id"]))
        assert final["cause"]["mutation_id"] == latest["id"]
    cutoff = state["reopened_at"]
    completions = [m for m in batch if m["type"] == "complete"
                   and (cutoff is None or int(m["hlc"][:13]) >= merge._iso_ms(cutoff))]
    if completions:
        first = min(completions, key=lambda m: (m["hlc"], m["id"]))
        assert final["completion"]["mutation_id"] == first["id"]
        etas = [m for m in batch if m["type"] == "set_eta" and m["hlc"] < first["hlc"]]
        assert (final["eta"] or {}).get("mutation_id") == (
            max(etas, key=lambda m: (m["hlc"], m["id"]))["id"] if etas else None)
        differing = {m["id"] for m in completions
                     if (m["data"]["completed_at"], m["data"]["resolution_code"])
                     != (first["data"]["completed_at"], first["data"]["resolution_code"])}
        assert final["needs_review"] == bool(differing)
    else:
        assert final["completion"] is None


def test_a_later_completion_with_other_content_is_a_conflict():
    state = merge.empty_state("on_site")
    first = {"id": "m1", "type": "complete", "hlc": "1795000000000-0000-a", "at": _iso(BASE_MS),
             "device_id": "a", "corrected_at": _iso(BASE_MS), "foreign": False,
             "data": {"completed_at": _iso(BASE_MS), "resolution_code": "repaired"}}
    second = {**first, "id": "m2", "hlc": "1795000005000-0000-b", "device_id": "b",
              "data": {"completed_at": _iso(BASE_MS + 5000), "resolution_code": "reset"}}
    state, decision = merge.apply(state, second)
    assert decision["outcome"] == "applied" and not state["needs_review"]
    state, decision = merge.apply(state, first)
    assert decision == {"rule": "completion_first_wins", "winner": "m1", "loser": None,
                        "outcome": "applied", "conflicts": ["m2"]}
    assert state["needs_review"] and merge.project(state)["completion"]["mutation_id"] == "m1"
