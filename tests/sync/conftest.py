"""Sync test helpers: a simulated tablet that pushes mutations and keeps what it pulls."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from server.db import db
from server.models import Order
from server.models.media import Media
from server.models.sync import ReferenceData
from sync import reference
from sync.digest import scope_digest

_counter = itertools.count(1)


def iso(epoch_ms: int) -> str:
    """RFC 3339 with milliseconds and Z, as the API writes times."""
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def now_ms() -> int:
    return int(time.time() * 1000)


class Tablet:
    """A crew device as the tests drive it: HLC stamps, push, pull into a local store."""

    def __init__(self, client: Any, device: Any, token: str) -> None:
        self.client = client
        self.device = device
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}
        self.cursor: str | None = None
        self.store: dict[tuple[str, str], dict[str, Any]] = {}
        self.last_page: dict[str, Any] | None = None

    def stamp(self, wall_ms: int | None = None) -> str:
        return f"{(wall_ms or now_ms()):013d}-{next(_counter) % 0xFFFF:04x}-{self.device.id}"

    def mutation(self, kind: str, order_id: Any, data: dict[str, Any], *,
                 wall_ms: int | None = None, mutation_id: str | None = None) -> dict[str, Any]:
        wall = wall_ms or now_ms()
        return {"id": mutation_id or str(uuid.uuid4()),
                "order_id": None if order_id is None else str(order_id), "type": kind,
                "hlc": self.stamp(wall), "at": iso(wall), "base_version": None, "data": data}

    def push_response(self, mutations: list[dict[str, Any]]):
        return self.client.post("/api/v1/sync/push", json={"mutations": mutations},
                                headers=self.headers)

    def push(self, *mutations: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.push_response(list(mutations))
        assert response.status_code == 200, response.get_json()
        return response.get_json()["results"]

    def pull_response(self, cursor: str | None = None, limit: int | None = None):
        query = {}
        if cursor:
            query["cursor"] = cursor
        if limit:
            query["limit"] = limit
        return self.client.get("/api/v1/sync/pull", query_string=query, headers=self.headers)

    def apply(self, page: dict[str, Any]) -> None:
        for change in page["changes"]:
            key = (change["type"], change["id"])
            if change["op"] == "upsert":
                self.store[key] = change
            else:
                self.store.pop(key, None)
                if change["type"] == "order":
                    for other in [k for k, v in self.store.items()
                                  if v["type"] == "media" and v.get("order_id") == change["id"]]:
                        del self.store[other]

    def sync(self, limit: int | None = None, *, fresh: bool = False) -> list[dict[str, Any]]:
        """Pull until has_more is false; returns the pages."""
        if fresh:
            self.cursor, self.store = None, {}
        pages = []
        while True:
            response = self.pull_response(self.cursor, limit)
            assert response.status_code == 200, response.get_json()
            page = response.get_json()
            self.apply(page)
            self.cursor = page["cursor"]
            pages.append(page)
            if not page["has_more"]:
                self.last_page = page
                return pages

    def orders(self) -> dict[str, dict[str, Any]]:
        return {k[1]: v for k, v in self.store.items() if k[0] == "order"}

    def digest(self) -> str:
        return scope_digest((t, i, v["version"]) for (t, i), v in self.store.items())


@pytest.fixture
def reference_data(app):
    """The default code lists (the migration seeds them; the test harness wipes tables)."""
    with app.app_context(), db.transaction() as session:
        reference.seed_defaults(session)


@pytest.fixture
def tablet(client, factory):
    """A factory of tablets: tablet(team=...) -> Tablet for a new crew member of that team."""

    def make(team=None, user=None) -> Tablet:
        device, token = factory.device(user=user, team=team)
        return Tablet(client, device, token)

    return make


def arrive_and_complete(device: Tablet, order_id: Any, *, completed_ms: int | None = None,
                        resolution: str = "repaired") -> list[dict[str, Any]]:
    """Push an arrival and a completion (at `completed_ms`, default now) for an order."""
    done = completed_ms or now_ms()
    return device.push(
        device.mutation("arrive", order_id, {"arrived_at": iso(done - 60_000),
                                             "location": {"lat": 28.6, "lon": 115.9}}),
        device.mutation("complete", order_id, {"completed_at": iso(done),
                                               "resolution_code": resolution}),
    )


def expected_digest(app, team_id: Any) -> str:
    """The scope digest computed straight from the tables, without the sync engine."""
    week_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    value = 0
    with app.app_context(), db.transaction() as session:
        entities = []
        for order in session.scalars(select(Order).where(Order.team_id == team_id)):
            active = order.status in ("assigned", "en_route", "on_site")
            recent = order.status == "completed" and order.completed_at >= week_ago
            if active or recent:
                entities.append(("order", str(order.id), order.version))
                entities += [("media", str(m.id), m.version) for m in
                             session.scalars(select(Media).where(Media.order_id == order.id))]
        entities += [("reference", r.id, r.version) for r in session.scalars(select(ReferenceData))]
    for entity_type, entity_id, version in entities:
        raw = hashlib.sha256(f"{entity_type}:{entity_id}:{version}".encode()).digest()[:16]
        value ^= int.from_bytes(raw, "big")
    return value.to_bytes(16, "big").hex()


@contextmanager
def captured_statements(app, marker: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) that contain `marker`, run inside the block."""
    captured: list[tuple[str, Any]] = []

    def note(_conn, _cursor, statement, parameters, *_args):
        if marker in statement:
            captured.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", note)


def plan_nodes(app, statement: str, parameters: Any, *, analyze: bool = False) -> list[dict]:
    """Every node of PostgreSQL's plan of `statement` (`EXPLAIN ... FORMAT JSON`, with
    `ANALYZE`: run in a transaction rolled back), depth first."""
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    with app.app_context(), db.engine.connect() as conn:
        [[plan]] = conn.exec_driver_sql(f"EXPLAIN ({options}) {statement}", parameters).one()
        conn.rollback()
    nodes, pending = [], [plan["Plan"]]
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending.extend(node.get("Plans", ()))
    return nodes
