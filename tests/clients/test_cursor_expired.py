"""410 cursor_expired: the device pulls everything again and keeps its unsent work."""

from __future__ import annotations

import datetime as dt

from clients.python.client import location
from server.db import db
from server.models.base import utcnow
from sync import feed


def expire_every_cursor(app) -> None:
    with app.app_context(), db.transaction() as session:
        feed.prune(session, utcnow() + dt.timedelta(days=1))


def test_an_expired_cursor_triggers_a_full_resync_that_keeps_local_work(
        app, factory, crew, server_url, make_client, server_view):
    kept, gone = factory.order(team=crew.team), factory.order(team=crew.team)
    _, other_token = factory.device(team=crew.team)
    mine = make_client(server_url, crew.token, "mine")
    theirs = make_client(server_url, other_token, "theirs")
    assert mine.sync().ok and theirs.sync().ok
    theirs.arrive(str(kept.id), location(28.68, 115.86, 5))
    assert theirs.sync().ok
    assert server_view.post(f"/api/v1/orders/{gone.id}/cancel",
                            {"reason": "Duplicate call"}).status_code == 200
    expire_every_cursor(app)

    recorded = []

    def crew_taps_while_pulling(phase, done, remaining):
        if phase == "pull" and not recorded:
            recorded.append(mine.set_cause(str(kept.id), "vegetation", "Tree on the line"))

    result = mine.sync(progress=crew_taps_while_pulling)
    assert result.full_resync and result.digest_ok and result.ok, result.errors
    assert {o["id"] for o in mine.orders()} == {str(kept.id)}
    view = mine.order(str(kept.id))
    assert view["status"] == "on_site"
    assert view["cause"]["cause_code"] == "vegetation"
    assert [m.id for m in mine.pending()] == recorded

    assert mine.sync().applied == 1
    assert server_view.order(kept.id)["cause"]["cause_code"] == "vegetation"
