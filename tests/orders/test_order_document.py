"""The pull's hand-written order document is exactly what the OrderSchema serves."""

import datetime as dt

from schemas.orders import order_document, order_schema
from server.db import db
from server.domain.audit import SYSTEM
from server.domain.history import lock_order
from server.domain.lifecycle import cancel_order
from server.models import Order


def test_order_document_equals_the_schema_for_new_assigned_and_cancelled_orders(app, factory):
    team = factory.team()
    new = factory.order()
    assigned = factory.order(team=team, customer_phone=None, asset_ref="TX-9", lat=None, lon=None,
                             required_skills=["gas"],
                             sla_arrive_by=dt.datetime(2026, 11, 21, 9, 30, 0, 123456, dt.UTC))
    cancelled = factory.order(team=team)
    with app.app_context(), db.transaction() as session:
        cancel_order(session, lock_order(session, cancelled.id), actor=SYSTEM,
                     reason="duplicate report")
    with app.app_context():
        for order_id in (new.id, assigned.id, cancelled.id):
            order = db.session.get(Order, order_id)
            assert order_document(order) == order_schema.dump(order)

