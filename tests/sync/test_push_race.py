"""A retry racing the first attempt of the same batch: every mutation is answered exactly once.

The first attempt has claimed its mutation ids but not committed when the retry claims the same
ids. On PostgreSQL the retry waits at its claim until the first commits, then finds the ids
taken and reads their outcomes; on SQLite it waits for the write lock instead. Either way the
retry must answer `duplicate` with the first outcomes and store nothing twice.
"""

from __future__ import annotations

import threading
import time
import uuid

from sqlalchemy import func, select

from server.cli.audit import verify_all_chains
from server.db import db
from server.models.audit import AuditEvent
from server.models.base import utcnow
from server.models.orders import Order
from server.models.sync import MutationRejection, ProcessedMutation
from sync.push import PushContext, apply_batch
from tests.sync.conftest import iso, now_ms


def _context(device, team) -> PushContext:
    return PushContext(device_id=device.device.id, user_id=device.device.user_id,
                       team_id=team.id, now=utcnow(), skew_bound_ms=300_000)


def test_a_retry_racing_the_uncommitted_first_attempt_answers_duplicate(app, factory, tablet):
    team = factory.team()
    device = tablet(team=team)
    location = device.mutation("report_location", None,
                               {"location": {"lat": 28.68, "lon": 115.86}, "at": iso(now_ms())})
    invalid = device.mutation("set_eta", uuid.uuid4(), {"eta": "not a time"})
    batch = [location, invalid]
    retry: dict[str, list] = {}

    def retry_batch() -> None:
        with app.app_context():
            session = db.new_session()
            try:
                retry["results"] = apply_batch(session, _context(device, team), batch)
                session.commit()
            finally:
                session.close()

    with app.app_context():
        first = db.new_session()
        first_results = apply_batch(first, _context(device, team), batch)
        racer = threading.Thread(target=retry_batch)
        racer.start()
        time.sleep(0.5)  # the retry is now blocked behind the uncommitted first attempt
        first.commit()
        first.close()
        racer.join(timeout=30)

        assert [r["status"] for r in first_results] == ["applied", "rejected"]
        assert [(r["status"], r["original_status"]) for r in retry["results"]] == [
            ("duplicate", "applied"), ("duplicate", "rejected")]
        assert retry["results"][1]["code"] == "validation_error"
        with db.transaction() as session:
            ids = [uuid.UUID(location["id"]), uuid.UUID(invalid["id"])]
            assert session.scalar(select(func.count()).select_from(ProcessedMutation)
                                  .where(ProcessedMutation.id.in_(ids))) == 2
            assert session.scalar(select(func.count()).select_from(MutationRejection)
                                  .where(MutationRejection.device_id == device.device.id)) == 1


def _arrival(device, order_id) -> dict:
    return device.mutation("arrive", order_id, {"arrived_at": iso(now_ms()),
                                                "location": {"lat": 28.68, "lon": 115.86}})


def test_a_racing_retry_with_one_more_mutation_applies_only_that_one(app, factory, tablet):
    """The retry adds an arrival the first attempt did not have: the raced id answers
    `duplicate`, the arrival applies, and the order's audit chain holds."""
    team = factory.team()
    device = tablet(team=team)
    order = factory.order(team=team)
    location = device.mutation("report_location", None,
                               {"location": {"lat": 28.68, "lon": 115.86}, "at": iso(now_ms())})
    arrive = _arrival(device, order.id)
    retry: dict[str, list] = {}

    def retry_batch() -> None:
        with app.app_context():
            session = db.new_session()
            try:
                retry["results"] = apply_batch(session, _context(device, team),
                                               [location, arrive])
                session.commit()
            finally:
                session.close()

    with app.app_context():
        first = db.new_session()
        assert [r["status"] for r in apply_batch(first, _context(device, team),
                                                 [location])] == ["applied"]
        racer = threading.Thread(target=retry_batch)
        racer.start()
        time.sleep(0.5)
        first.commit()
        first.close()
        racer.join(timeout=30)

        assert [r["status"] for r in retry["results"]] == ["duplicate", "applied"]
        with db.transaction() as session:
            stored = session.get(Order, order.id)
            assert stored.status == "on_site"
            assert stored.version == retry["results"][1]["order_version"] == order.version + 1
            assert verify_all_chains(session).broken == {}


def test_an_order_the_session_already_loaded_is_read_again_after_a_push(app, factory, tablet):
    """The push writes orders with Core; an ORM copy loaded earlier in the same session must
    not keep (or later write back) the values from before the push."""
    team = factory.team()
    device = tablet(team=team)
    order = factory.order(team=team)
    with app.app_context(), db.transaction() as session:
        loaded = session.get(Order, order.id)
        version = loaded.version
        results = apply_batch(session, _context(device, team),
                              [_arrival(device, order.id)])
        assert results[0]["status"] == "applied"
        assert (loaded.status, loaded.version) == ("on_site", version + 1)
        assert loaded.audit_seq == session.scalar(
            select(func.max(AuditEvent.seq)).where(AuditEvent.order_id == order.id))
