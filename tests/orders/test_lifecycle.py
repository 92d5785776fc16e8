"""Cancel, reopen and close as domain functions: allowed moves, refused ones, history kept."""

from __future__ import annotations

import pytest

from server.db import db
from server.domain.audit import SYSTEM, order_events, verify_chain
from server.domain.history import lock_order
from server.domain.lifecycle import cancel_order, close_order, reopen_order
from server.errors import InvalidTransition
from server.models import ChangeLog, Team
from server.models.base import utcnow


def _complete(app, order_id, completion=None):
    """Put an order straight into `completed`, as a crew push would."""
    with app.app_context(), db.transaction() as session:
        order = lock_order(session, order_id)
        order.status = "completed"
        order.completed_at = utcnow()
        order.completion = completion or {"resolution_code": "fixed", "hlc": "1"}


def test_reopen_of_a_completed_order_returns_it_to_its_team_with_history(app, factory):
    team = factory.team()
    crew = factory.user("crew", team=team)
    order = factory.order(team=team, user_ids=[crew.id])
    _complete(app, order.id)
    with app.app_context(), db.transaction() as session:
        reopened = reopen_order(session, lock_order(session, order.id), actor=SYSTEM,
                                reason="customer says still broken", source="system")
        assert reopened.status == "assigned"
        assert reopened.team_id == team.id
        assert reopened.user_ids == [str(crew.id)]
        assert reopened.completion is None and reopened.completed_at is None
        assert reopened.reopen_count == 1
        assert reopened.field_state["previous_completions"][0]["resolution_code"] == "fixed"
        assert reopened.field_state["reopened_at"].endswith("Z")
    with app.app_context():
        stored = lock_order(db.session, order.id)
        events = order_events(db.session, order.id)
        assert events[-1].action == "reopened"
        assert events[-1].changes["status"] == ["completed", "assigned"]
        assert verify_chain(stored, events) == []


def test_reopen_without_an_active_team_goes_back_to_new_and_notes_the_old_team(app, factory):
    team = factory.team()
    order = factory.order(team=team)
    _complete(app, order.id)
    with app.app_context(), db.transaction() as session:
        session.get(Team, team.id).active = False
    with app.app_context(), db.transaction() as session:
        reopened = reopen_order(session, lock_order(session, order.id), actor=SYSTEM, reason="r")
        assert (reopened.status, reopened.team_id, reopened.user_ids) == ("new", None, [])
    with app.app_context():
        entry = db.session.query(ChangeLog).filter_by(order_id=order.id).order_by(
            ChangeLog.pos.desc()).first()
        assert (entry.team_id, entry.prev_team_id) == (None, team.id)


def test_close_then_reopen_a_closed_order_keeps_every_completion(app, factory):
    team = factory.team()
    order = factory.order(team=team)
    _complete(app, order.id, {"resolution_code": "first"})
    with app.app_context(), db.transaction() as session:
        closed = close_order(session, lock_order(session, order.id), actor=SYSTEM)
        assert closed.status == "closed" and closed.closed_at is not None
    with app.app_context(), db.transaction() as session:
        reopen_order(session, lock_order(session, order.id), actor=SYSTEM, reason="again")
    _complete(app, order.id, {"resolution_code": "second"})
    with app.app_context(), db.transaction() as session:
        order = reopen_order(session, lock_order(session, order.id), actor=SYSTEM, reason="3rd")
        assert [c["resolution_code"] for c in order.field_state["previous_completions"]] == [
            "first", "second"]
        assert order.reopen_count == 2 and order.closed_at is None


@pytest.mark.parametrize("status", ["new", "assigned", "en_route", "on_site"])
def test_cancel_is_allowed_before_completion(app, factory, status):
    order = factory.order()
    with app.app_context(), db.transaction() as session:
        locked = lock_order(session, order.id)
        locked.status = status
    with app.app_context(), db.transaction() as session:
        cancelled = cancel_order(session, lock_order(session, order.id), actor=SYSTEM,
                                 reason="duplicate")
        assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "duplicate")
        assert cancelled.cancelled_at is not None


@pytest.mark.parametrize("move, status", [
    ("cancel", "completed"), ("cancel", "closed"), ("cancel", "cancelled"),
    ("reopen", "new"), ("reopen", "assigned"), ("reopen", "on_site"), ("reopen", "cancelled"),
    ("close", "new"), ("close", "on_site"), ("close", "closed"), ("close", "cancelled"),
])
def test_refused_moves_are_invalid_transitions_and_change_nothing(app, factory, move, status):
    order = factory.order()
    with app.app_context(), db.transaction() as session:
        lock_order(session, order.id).status = status
    calls = {
        "cancel": lambda s, o: cancel_order(s, o, actor=SYSTEM, reason="r"),
        "reopen": lambda s, o: reopen_order(s, o, actor=SYSTEM, reason="r"),
        "close": lambda s, o: close_order(s, o, actor=SYSTEM),
    }
    with app.app_context():
        locked = lock_order(db.session, order.id)
        version = locked.version
        with pytest.raises(InvalidTransition):
            calls[move](db.session, locked)
        assert (locked.status, locked.version) == (status, version)
