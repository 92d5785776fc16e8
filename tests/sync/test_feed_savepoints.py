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
