"""The change feed follows savepoints: what a rolled-back savepoint noted is never published."""

import uuid

import pytest
from sqlalchemy import select

from server.db import db
from server.models.feed import ChangeLog
from sync import feed


def _note(session, entity_id: str) -> None:
    feed.record(session, entity_type="reference", entity_id=entity_id, version=1)


def test_only_the_rolled_back_savepoints_entries_are_dropped(app):
    with app.app_context():
        with db.transaction() as session:
            _note(session, "before")
            with pytest.raises(RuntimeError), session.begin_nested():
                _note(session, "rolled-back")
                raise RuntimeError("refused")
            with session.begin_nested():
                _note(session, "released")
            _note(session, "after")
        published = db.session.scalars(select(ChangeLog.entity_id).order_by(ChangeLog.pos))
        assert list(published) == ["before", "released", "after"]


def test_a_rolled_back_transaction_publishes_nothing(app):
    with app.app_context():
        with pytest.raises(RuntimeError), db.transaction() as session:
            _note(session, str(uuid.uuid4()))
            raise RuntimeError("refused")
        with db.transaction() as session:
            _note(session, "next")
        published = db.session.scalars(select(ChangeLog.entity_id))
        assert list(published) == ["next"]


def test_published_entries_take_consecutive_positions_in_the_order_noted(app, factory):
    """PostgreSQL publishes in one statement, SQLite in two: both write the same rows."""
    team, moved_from = factory.team(), factory.team()
    order_id = uuid.uuid4()
    with app.app_context():
        with db.transaction() as session:
            _note(session, "first")
            feed.record(session, entity_type="order", entity_id=order_id, version=7,
                        order_id=order_id, team_id=team.id, prev_team_id=moved_from.id)
            _note(session, "last")
        with db.transaction() as session:
            _note(session, "next transaction")
        rows = db.session.execute(select(ChangeLog).order_by(ChangeLog.pos)).scalars().all()
    positions = [row.pos for row in rows]
    assert positions == list(range(positions[0], positions[0] + 4))
    assert [row.entity_id for row in rows] == ["first", str(order_id), "last",
                                               "next transaction"]
    order_row = rows[1]
    assert (order_row.entity_type, order_row.version, order_row.order_id, order_row.team_id,
            order_row.prev_team_id) == ("order", 7, order_id, team.id, moved_from.id)
    assert rows[0].order_id is None and rows[0].team_id is None
    assert order_row.at is not None
