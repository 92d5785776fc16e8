"""Device pushes extend the hash-chained audit trail, and tampering with it is detected."""

from __future__ import annotations

from sqlalchemy import text

from server.db import db
from tests.sync.conftest import arrive_and_complete


def test_pushed_work_keeps_the_chain_valid_and_an_edit_in_sql_is_caught(app, factory, tablet):
    team = factory.team()
    order = factory.order(team=team)
    device = tablet(team=team)
    arrive_and_complete(device, order.id)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["verify-audit"]).exit_code == 0

    with app.app_context(), db.engine.begin() as connection:
        forged = connection.execute(text(
            "UPDATE audit_events SET hlc = '0000000000000-0000-forged' "
            "WHERE order_id = :order AND source = 'device'"), {"order": order.id.hex
                                                              if db.is_sqlite else order.id})
    assert forged.rowcount == 2

    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code != 0
