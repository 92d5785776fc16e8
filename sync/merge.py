"""The per-field merge rules of PROTOCOL.md section 4, as pure functions over plain dicts.

The merge state keeps every candidate a rule may need (all arrivals, ETAs, completions and
notes, keyed by mutation or note id) and the order's visible field data is *projected* from
those sets, so the result is a function of the set of mutations received, not of their
arrival order (commutative), and storing a mutation twice changes nothing (idempotent).
Status is the exception that is not a set: it only ever moves up the ranks, which commutes too.

Times are RFC 3339 strings of one fixed format (`2026-11-21T08:15:30.125Z`), so comparing the
strings compares the instants; HLC stamps sort as text as well.

A state is a dict with the keys of `empty_state()`; a mutation is a dict:
`{"id", "type", "hlc", "at", "device_id", "data", "corrected_at", "foreign"}` where `hlc` is
the stamp the server accepted (skew-bounded), `corrected_at` the event time corrected for the
device's clock skew, and `foreign` is true when the order was reassigned or cancelled while the
crew worked offline (its data is stored, the status does not move).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

State = dict[str, Any]
Mutation = dict[str, Any]
Decision = dict[str, Any]

#: Lifecycle ranks (PROTOCOL.md section 3); `cancelled` has none and never moves.
STATUS_RANK = {"new": 0, "assigned": 1, "en_route": 2, "on_site": 3, "completed": 4, "closed": 5}
#: The status each mutation type implies at least.
IMPLIED_STATUS = {"depart": "en_route", "arrive": "on_site", "complete": "completed"}
#: The keys of `Order.field_state` this module owns (other modules keep theirs beside them).
SET_KEYS = ("arrivals", "departures", "etas", "completions", "notes")
COMPLETION_CONTENT = ("completed_at", "resolution_code", "resolution_text", "signature_media_id")
#: What the merge needs of a note besides what the order's `notes` column shows.
NOTE_MERGE_KEYS = ("hlc", "mutation_id")


def empty_state(status: str = "assigned") -> State:
    """A state with nothing merged yet."""
    return {
        "status": status,
        "needs_review": False,
        "reopened_at": None,
        "cause": None,
        "completion_choice": None,
        **{key: {} for key in SET_KEYS},
    }


def _wall_ms(stamp: str) -> int:
    return int(stamp[:13])


def _iso_ms(value: str) -> int:
    return int(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def _stamped_before_reopen(state: State, mutation: Mutation) -> bool:
    reopened_at = state.get("reopened_at")
    # A stored `reopened_at` is text; `bool()` rules out None, which mypy does not see.
    return bool(reopened_at) and _wall_ms(mutation["hlc"]) < _iso_ms(cast(str, reopened_at))


# --- projections: the visible value of each field, from the sets -----------------------------


def arrival_winner(state: State) -> tuple[str, dict[str, Any]] | None:
    """The earliest arrival (ties broken by HLC, then mutation id)."""
    arrivals = state["arrivals"]
    if not arrivals:
        return None
    mid = min(arrivals, key=lambda m: (arrivals[m]["arrived_at"], arrivals[m]["hlc"], m))
    return mid, arrivals[mid]


def eligible_completions(state: State) -> dict[str, dict[str, Any]]:
    """Completions that count: not stamped before the order was last reopened."""
    reopened_at = state.get("reopened_at")
    if not reopened_at:
        return dict(state["completions"])
    cutoff = _iso_ms(reopened_at)
    return {m: c for m, c in state["completions"].items() if _wall_ms(c["hlc"]) >= cutoff}


def completion_winner(state: State) -> tuple[str, dict[str, Any]] | None:
    """The first completion by HLC, unless a dispatcher accepted another one."""
    eligible = eligible_completions(state)
    if not eligible:
        return None
    choice = state.get("completion_choice")
    if choice in eligible:
        return choice, eligible[choice]
    mid = min(eligible, key=lambda m: (eligible[m]["hlc"], m))
    return mid, eligible[mid]


def completion_losers(state: State) -> set[str]:
    """Eligible completions whose content differs from the winner's: the conflicts."""
    winner = completion_winner(state)
    if winner is None:
        return set()
    content = _completion_content(winner[1])
    return {m for m, c in eligible_completions(state).items() if _completion_content(c) != content}


def _completion_content(completion: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(completion.get(key) for key in COMPLETION_CONTENT)


def eta_winner(state: State) -> tuple[str, dict[str, Any]] | None:
    """The last ETA by HLC among those stamped before the winning completion."""
    completion = completion_winner(state)
    etas = state["etas"]
    candidates = [m for m in etas if completion is None or etas[m]["hlc"] < completion[1]["hlc"]]
    if not candidates:
        return None
    mid = max(candidates, key=lambda m: (etas[m]["hlc"], m))
    return mid, etas[mid]


def project(state: State) -> dict[str, Any]:
    """The order's visible field data and time columns, derived from the merge state."""
    arrival = arrival_winner(state)
    completion = completion_winner(state)
    eta = eta_winner(state)
    notes = sorted(state["notes"].values(), key=lambda n: (n["hlc"], n["id"]))
    return {
        "arrival": None if arrival is None else {
            "arrived_at": arrival[1]["arrived_at"],
            "location": arrival[1]["location"],
            "mutation_id": arrival[0],
            "device_id": arrival[1]["device_id"],
        },
        "arrived_at": None if arrival is None else arrival[1]["corrected_at"],
        "cause": None if state["cause"] is None else {
            key: state["cause"][key] for key in ("cause_code", "cause_text", "mutation_id")
        },
        "eta": None if eta is None else {"eta": eta[1]["eta"], "mutation_id": eta[0]},
        "completion": None if completion is None else {
            **{key: completion[1].get(key) for key in COMPLETION_CONTENT},
            "mutation_id": completion[0],
            "device_id": completion[1]["device_id"],
        },
        "completed_at": None if completion is None else completion[1]["corrected_at"],
        "notes": [
            {key: note[key] for key in ("id", "text", "at", "device_id")} for note in notes
        ],
        "status": state["status"],
        "needs_review": state["needs_review"],
    }


# --- applying one mutation -------------------------------------------------------------------


def _raise_status(state: State, mutation: Mutation) -> None:
    target = IMPLIED_STATUS.get(mutation["type"])
    if target is None or mutation.get("foreign") or _stamped_before_reopen(state, mutation):
        return
    current = state["status"]
    if current in STATUS_RANK and STATUS_RANK[target] > STATUS_RANK[current]:
        state["status"] = target


def _add_once(collection: dict[str, Any], key: str, value: dict[str, Any]) -> None:
    """Grow-only: the first value stored under a key stays (a replay carries the same one)."""
    collection.setdefault(key, value)


def _copy(value: Any) -> Any:
    """A copy two levels deep: the state's members and their collections.

    Enough for a pure merge because no function here changes a stored entry in place: entries
    are only added to collections or replaced whole, so old and new states may share them.
    """
    return dict(value) if isinstance(value, dict) else value


def copy_state(state: State) -> State:
    return {key: _copy(value) for key, value in state.items()}


def apply(state: State, mutation: Mutation) -> tuple[State, Decision]:
    """Merge one mutation into a copy of `state`; returns the new state and the decision.

    The decision says which rule decided, the winner and loser where there was a contest,
    `outcome` ("applied" when the order now shows what the mutation sent, else "merged") and
    `conflicts`, the completions that newly lost with different content.
    """
    new = copy_state(state)
    mid, kind, data, stamp = mutation["id"], mutation["type"], mutation["data"], mutation["hlc"]
    losers_before = completion_losers(new)
    common = {"hlc": stamp, "device_id": mutation["device_id"]}
    before_reopen = _stamped_before_reopen(new, mutation)

    if kind == "depart":
        _add_once(new["departures"], mid, {"departed_at": data["departed_at"], **common})
        _raise_status(new, mutation)
        decision = {"rule": "status_never_backwards", "winner": new["status"]}
        won = new["status"] == IMPLIED_STATUS["depart"]
    elif kind == "arrive":
        _add_once(new["arrivals"], mid, {
            "arrived_at": data["arrived_at"], "location": data.get("location"),
            "corrected_at": mutation["corrected_at"], **common,
        })
        _raise_status(new, mutation)
        winner = arrival_winner(new)
        won = winner is not None and winner[0] == mid
        decision = {"rule": "earliest_arrival_wins", "winner": winner and winner[0],
                    "loser": None if won else mid}
    elif kind == "set_cause":
        current = new["cause"]
        won = current is None or (stamp, mid) >= (current["hlc"], current["mutation_id"])
        if won:
            new["cause"] = {"cause_code": data["cause_code"], "cause_text": data.get("cause_text"),
                            "hlc": stamp, "mutation_id": mid}
        decision = {"rule": "cause_last_writer_wins",
                    "winner": new["cause"]["mutation_id"],
                    "loser": None if won else mid,
                    "overwritten": current["mutation_id"] if won and current and
                    current["mutation_id"] != mid else None}
    elif kind == "set_eta":
        _add_once(new["etas"], mid, {"eta": data["eta"], **common})
        winner = eta_winner(new)
        won = winner is not None and winner[0] == mid
        decision = {"rule": "eta_last_writer_before_completion",
                    "winner": winner and winner[0], "loser": None if won else mid}
    elif kind == "complete":
        _add_once(new["completions"], mid, {
            **{key: data.get(key) for key in COMPLETION_CONTENT},
            "corrected_at": mutation["corrected_at"], **common,
        })
        _raise_status(new, mutation)
        winner = completion_winner(new)
        won = winner is not None and winner[0] == mid
        decision = {"rule": "completion_first_wins", "winner": winner and winner[0],
                    "loser": None if won else mid}
    elif kind == "add_note":
        note_id = str(data.get("id") or mid)
        note = {"id": note_id, "text": data["text"], "at": mutation["at"], "mutation_id": mid,
                **common}
        earlier = new["notes"].get(note_id)
        if earlier is None or (stamp, mid) < (earlier["hlc"], earlier["mutation_id"]):
            new["notes"][note_id] = note  # one note id, two texts: the first by HLC is kept
        won = new["notes"][note_id]["mutation_id"] == mid
        decision = {"rule": "notes_grow_only", "winner": new["notes"][note_id]["mutation_id"]}
    else:
        raise ValueError(f"unknown mutation type {kind!r}")

    conflicts = sorted(completion_losers(new) - losers_before)
    if conflicts:
        new["needs_review"] = True
    if before_reopen:
        decision = {**decision, "rule": "stamped_before_reopen", "reopened_at": new["reopened_at"]}
        won = False
    if mutation.get("foreign"):
        won = False
    decision["outcome"] = "applied" if won else "merged"
    decision["conflicts"] = conflicts
    return new, decision


def state_from_field_state(field_state: dict[str, Any], status: str, needs_review: bool,
                           notes: list[dict[str, Any]]) -> State:
    """Build a merge state from an order's stored `field_state` and columns (`notes` is the
    order's `notes` column, which holds what `field_state` does not keep of each note)."""
    state = empty_state(status)
    state["needs_review"] = needs_review
    for key in (*SET_KEYS, "cause", "completion_choice", "reopened_at"):
        if field_state.get(key) is not None:
            state[key] = _copy(field_state[key])
    shown = {note["id"]: note for note in notes}
    # Merge state written before notes were kept apart holds whole notes: they stay as stored.
    state["notes"] = {note_id: {**shown.get(note_id, {}), **kept}
                      for note_id, kept in state["notes"].items()}
    return state


def field_state_from_state(field_state: dict[str, Any], state: State) -> dict[str, Any]:
    """The order's new `field_state`: this module's keys replaced, every other key kept.

    Of each note it keeps what the `notes` column does not show (`NOTE_MERGE_KEYS`): a note's
    text is stored once, not twice in every order row and every read and write of it.
    """
    updated = dict(field_state)
    for key in (*SET_KEYS, "cause", "completion_choice"):
        if key != "notes":
            updated[key] = _copy(state[key])
    updated["notes"] = {note_id: {key: note[key] for key in NOTE_MERGE_KEYS}
                        for note_id, note in state["notes"].items()}
    return updated
