"""`flask demo`: people, tablets and orders in every status, loaded once, with intact chains."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select

from server.db import db
from server.models import Device, DeviceToken, Order, Team, User


def _run_demo(app) -> str:
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_loads_people_tablets_and_orders_in_every_status(app, client):
    output = _run_demo(app)
    password = re.search(r"password: (\S+)", output).group(1)
    with app.app_context():
        session = db.session
        assert session.scalar(select(func.count(Team.id))) == 6
        roles = dict(session.execute(
            select(User.role, func.count(User.id)).group_by(User.role)).all())
        assert roles["admin"] == 1 and roles["dispatcher"] == 2 and roles["agent"] == 1
        assert 12 <= roles["crew"] <= 18
        assert session.scalar(select(func.count(Device.id))) == roles["crew"]
        assert session.scalar(select(func.count(DeviceToken.jti))) == roles["crew"]
        statuses = dict(session.execute(
            select(Order.status, func.count(Order.id)).group_by(Order.status)).all())
    assert set(statuses) == {"new", "assigned", "en_route", "on_site", "completed", "closed",
                             "cancelled"}
    assert sum(statuses.values()) == 60

    login = client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
    assert login.status_code == 200
    staff = {"Authorization": f"Bearer {login.json['access_token']}"}
    on_site = client.get("/api/v1/orders?status=on_site&limit=1", headers=staff).json["items"][0]
    assert on_site["arrival"]["arrived_at"]

    printed = re.findall(r"^(\S+)\s+.+ Crew\s+([0-9a-f-]{36})\s+(\S+)$", output, re.MULTILINE)
    assert len(printed) == roles["crew"]
    with app.app_context():
        # The tablet of a crew member whose team holds active work reads one of those orders.
        token, order_id = next(
            (token, order_id)
            for _username, device_id, token in printed
            for order_id in db.session.scalars(
                select(Order.id).join(User, User.team_id == Order.team_id)
                .join(Device, Device.user_id == User.id)
                .where(Device.id == uuid.UUID(device_id),
                       Order.status.in_(("assigned", "en_route", "on_site")))
            )
        )
    crew_read = client.get(f"/api/v1/orders/{order_id}",
                           headers={"Authorization": f"Bearer {token}"})
    assert crew_read.status_code == 200
    assert crew_read.json["customer"]["phone"]

    verify = app.test_cli_runner().invoke(args=["verify-audit"])
    assert verify.exit_code == 0, verify.output


def test_demo_twice_changes_nothing(app):
    _run_demo(app)
    with app.app_context():
        orders = db.session.scalar(select(func.count(Order.id)))
    assert "already loaded" in _run_demo(app)
    with app.app_context():
        assert db.session.scalar(select(func.count(Order.id))) == orders
