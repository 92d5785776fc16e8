"""Two tablets pushing the same work in opposite orders end with the same order state."""

from __future__ import annotations

import uuid

from server.db import db
from server.models import Order
from tests.sync.conftest import iso, now_ms

FIELDS = ("status", "arrival", "cause", "eta", "completion", "notes", "needs_review")


def _work(device, t: int, tag: str, *, arrive_s: int, complete_s: int, code: str) -> list[dict]:
    """One tablet's outbox for an order: template mutations (order id filled in later)."""
    def stamp(offset_s: int) -> int:
        return t + offset_s * 1000

    return [
        ("depart", {"departed_at": iso(stamp(arrive_s - 600))}, arrive_s - 600),
        ("arrive", {"arrived_at": iso(stamp(arrive_s)), "location": {"lat": 28.6, "lon": 115.8}},
         arrive_s),
        ("set_cause", {"cause_code": code}, arrive_s + 60),
        ("set_eta", {"eta": iso(stamp(arrive_s + 3600))}, arrive_s + 90),
        ("add_note", {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, tag)), "text": f"from {tag}"},
         arrive_s + 100),
        ("complete", {"completed_at": iso(stamp(complete_s)), "resolution_code": code}, complete_s),
        ("set_eta", {"eta": iso(stamp(complete_s + 7200))}, complete_s + 30),
    ]


def _push(device, order_id, work, label_of: dict) -> None:
    batch = []
    for index, (kind, data, offset_s) in enumerate(work):
        mutation = device.mutation(kind, order_id, data, wall_ms=BASE + offset_s * 1000)
        label_of[mutation["id"]] = f"{device.device.id}-{index}"
        batch.append(mutation)
    results = device.push(*batch)
    assert all(r["status"] in ("applied", "merged") for r in results), results


BASE = now_ms() - 3_600_000


def _state(app, order_id, label_of: dict) -> dict:
    with app.app_context(), db.transaction() as session:
        order = session.get(Order, order_id)
        state = {name: getattr(order, name) for name in FIELDS}

    def relabel(value):
        if isinstance(value, dict):
            return {k: relabel(v) for k, v in value.items()}
        if isinstance(value, list):
            return [relabel(v) for v in value]
        return label_of.get(value, value)

    return relabel(state)


def test_two_devices_pushing_in_opposite_orders_converge(app, factory, tablet):
    team = factory.team()
    one, two = tablet(team=team), tablet(team=team)
    first_order, second_order = factory.order(team=team), factory.order(team=team)
    work_one = _work(one, BASE, "one", arrive_s=100, complete_s=2000, code="fuse_blown")
    work_two = _work(two, BASE, "two", arrive_s=50, complete_s=2500, code="overload")
    labels: dict[str, str] = {}

    _push(one, first_order.id, work_one, labels)
    _push(two, first_order.id, work_two, labels)
    _push(two, second_order.id, work_two, labels)
    _push(one, second_order.id, work_one, labels)

    first, second = _state(app, first_order.id, labels), _state(app, second_order.id, labels)
    assert first == second
    assert first["status"] == "completed" and first["needs_review"] is True
    assert first["arrival"]["mutation_id"] == f"{two.device.id}-1"
    assert first["completion"]["mutation_id"] == f"{one.device.id}-5"
    assert first["cause"]["mutation_id"] == f"{one.device.id}-2"
    assert {n["text"] for n in first["notes"]} == {"from one", "from two"}
