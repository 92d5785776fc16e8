"""The merge intent of PROTOCOL.md section 4, applied locally so the view updates at once.

The server decides; this only predicts. After every pull the view is rebuilt from the
server's state with the still-unsent mutations re-applied on top (a rebase), so whatever
this gets wrong lasts only until the next sync.
"""

from __future__ import annotations

import copy
from typing import Any

STATUS_RANK = {"new": 0, "assigned": 1, "en_route": 2, "on_site": 3, "completed": 4, "closed": 5}


def _raise_status(order: dict[str, Any], status: str) -> None:
    """Status never moves backwards, and a cancelled order stays cancelled."""
    current = order.get("status")
    if current == "cancelled":
        return
    if STATUS_RANK.get(current or "new", 0) < STATUS_RANK[status]:
        order["status"] = status


def _later(hlc: str, existing: dict[str, Any] | None) -> bool:
    return existing is None or hlc > str(existing.get("hlc") or "")


def apply_mutation(order: dict[str, Any], mutation: dict[str, Any]) -> dict[str, Any]:
    """A copy of `order` with `mutation` ({type, data, hlc, id}) applied by the merge rules."""
    order = copy.deepcopy(order)
    kind, data, hlc = mutation["type"], mutation["data"], mutation["hlc"]
    if kind == "depart":
        _raise_status(order, "en_route")
    elif kind == "arrive":
        arrival = order.get("arrival")
        if arrival is None or data["arrived_at"] < str(arrival.get("arrived_at") or "~"):
            order["arrival"] = {"arrived_at": data["arrived_at"], "location": data.get("location")}
        _raise_status(order, "on_site")
    elif kind == "set_cause":
        if _later(hlc, order.get("cause")):
            order["cause"] = {"cause_code": data["cause_code"],
                              "cause_text": data.get("cause_text"), "hlc": hlc}
    elif kind == "set_eta":
        completion = order.get("completion")
        stamped_before = completion is None or hlc < str(completion.get("hlc") or "~")
        if stamped_before and _later(hlc, order.get("eta")):
            order["eta"] = {"eta": data["eta"], "hlc": hlc}
    elif kind == "complete":
        completion = order.get("completion")
        if completion is None or hlc < str(completion.get("hlc") or "~"):
            order["completion"] = {**data, "hlc": hlc}
        _raise_status(order, "completed")
    elif kind == "add_note":
        notes = list(order.get("notes") or [])
        if all(note.get("id") != mutation["id"] for note in notes):
            notes.append({"id": mutation["id"], "text": data["text"], "at": mutation.get("at"),
                          "hlc": hlc})
        order["notes"] = notes
    return order


def attach_media(order: dict[str, Any], media: dict[str, Any]) -> dict[str, Any]:
    """Photos and signatures are a grow-only set keyed by the client's media id."""
    order = copy.deepcopy(order)
    existing = list(order.get("media") or [])
    if all(item.get("id") != media["id"] for item in existing):
        existing.append(media)
    order["media"] = existing
    return order
