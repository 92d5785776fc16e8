"""A retry racing the first attempt of the same batch: every mutation is answered exactly once.

The first attempt writes but has not committed when the retry reads which ids were answered,
so the retry's write hits the first one's ids. On PostgreSQL this is the batch that falls back
to one savepoint per mutation; on SQLite the retry waits for the write lock instead. Either
way the retry must answer `duplicate` with the first outcomes and store nothing twice.
"""

from __future__ import annotations

import threading
import time
import uuid

from sqlalchemy import func, select

from server.db import db
from server.models.base import utcnow
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
