"""Fixtures of the dispatch tests: order bodies, direct edits of on-site times, device positions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from server.db import db
from server.models import AuditEvent, Device, Order

T0 = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def order_body(**overrides: Any) -> dict[str, Any]:
    """A valid `POST /orders` body; keyword arguments replace members."""
    body: dict[str, Any] = {
        "source": "hotline",
        "kind": "fault_repair",
        "priority": "normal",
        "title": "No power in the building",
        "customer": {"name": "Wang Fang", "phone": "+86 791 8888 1234"},
        "address": "88 Hongdu Middle Avenue, Nanchang",
        "location": {"lat": 28.68, "lon": 115.86},
        "required_skills": [],
    }
    body.update(overrides)
    return body


class Helpers:
    """Staff requests and the column edits the sync engine would make (on-site times)."""

    def __init__(self, app, client, factory) -> None:
        self.app = app
        self.client = client
        self.factory = factory
        self.dispatcher = factory.staff_headers("dispatcher")

    def create(self, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/orders", json=order_body(**overrides), headers=headers or self.dispatcher
        )
        assert response.status_code == 201, response.json
        return response.json

    def set_order(self, order_id: Any, **columns: Any) -> None:
        with self.app.app_context(), db.transaction() as session:
            order = session.get(Order, uuid.UUID(str(order_id)))
            for name, value in columns.items():
                setattr(order, name, value)

    def order(self, order_id: Any) -> Order:
        with self.app.app_context(), db.transaction() as session:
            return session.get(Order, uuid.UUID(str(order_id)))

    def place_device(self, device: Device, lat: float, lon: float, at: dt.datetime) -> None:
        with self.app.app_context(), db.transaction() as session:
            stored = session.get(Device, device.id)
            stored.last_location = {"lat": lat, "lon": lon, "accuracy_m": 10.0}
            stored.last_location_at = at

    def events(self, order_id: Any, action: str | None = None) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/v1/orders/{order_id}/audit?limit=500", headers=self.dispatcher
        )
        assert response.status_code == 200, response.json
        return [e for e in response.json["items"] if action is None or e["action"] == action]

    def event_rows(self, action: str) -> list[AuditEvent]:
        with self.app.app_context(), db.transaction() as session:
            return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))

    def completed_order(self, *, team=None, completed_at: dt.datetime, **fields: Any) -> Order:
        """An order the crew completed at `completed_at` (as the sync engine would record it)."""
        order = self.factory.order(team=team or self.factory.team(), **fields)
        self.set_order(
            order.id,
            status="completed",
            arrived_at=completed_at - dt.timedelta(hours=1),
            completed_at=completed_at,
        )
        return order


@pytest.fixture
def helpers(app, client, factory) -> Helpers:
    return Helpers(app, client, factory)
