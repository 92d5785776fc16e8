"""No missed change: concurrent writers with out-of-order commits against readers, on gunicorn.

Eight writer threads (crew pushes and dispatcher creates, edits, assignments, cancellations)
commit through a real multi-worker gunicorn, each transaction sleeping a random while before it
commits (FIELDSYNC_TEST_COMMIT_DELAY_MAX), so commits land out of their start order. Four
reader tablets pull in a loop meanwhile. At the end every reader pulls until `has_more` is
false and must hold exactly its team's scope, every order at its final version, and the digest.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import select

from server.db import db
from server.models import Order
from tests.conftest import backend
from tests.sync.conftest import expected_digest, iso, now_ms

pytestmark = pytest.mark.slow

WRITER_OPERATIONS = 30
ORDERS_PER_TEAM = 6
PUSH_KINDS = ("add_note", "set_cause", "set_eta", "depart", "arrive", "complete")


class HttpTablet:
    def __init__(self, base: str, device, token: str) -> None:
        self.base, self.device = base, device
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.cursor: str | None = None
        self.store: dict[tuple[str, str], int] = {}
        self.digest: str | None = None
        self.counter = 0

    def pull_until_done(self) -> None:
        while True:
            response = self.session.get(f"{self.base}/api/v1/sync/pull",
                                        params={"cursor": self.cursor} if self.cursor else {},
                                        timeout=30)
            assert response.status_code == 200, response.text
            page = response.json()
            for change in page["changes"]:
                key = (change["type"], change["id"])
                if change["op"] == "upsert":
                    self.store[key] = change["version"]
                else:
                    self.store.pop(key, None)
            self.cursor = page["cursor"]
            if not page["has_more"]:
                self.digest = page["scope_digest"]
                return

    def push(self, kind: str, order_id: str) -> None:
        self.counter += 1
        t = now_ms()
        data = {
            "add_note": {"text": f"note {self.counter}"},
            "set_cause": {"cause_code": random.choice(("fuse_blown", "overload"))},
            "set_eta": {"eta": iso(t + 3_600_000)},
            "depart": {"departed_at": iso(t)},
            "arrive": {"arrived_at": iso(t), "location": {"lat": 28.6, "lon": 115.8}},
            "complete": {"completed_at": iso(t), "resolution_code": "repaired"},
        }[kind]
        mutation = {"id": str(uuid.uuid4()), "order_id": order_id, "type": kind,
                    "hlc": f"{t:013d}-{self.counter % 0xFFFF:04x}-{self.device.id}",
                    "at": iso(t), "data": data}
        response = self.session.post(f"{self.base}/api/v1/sync/push",
                                     json={"mutations": [mutation]}, timeout=30)
        assert response.status_code == 200, response.text


def test_readers_miss_no_change_while_writers_commit_out_of_order(app, factory, gunicorn_server):
    teams = [factory.team() for _ in range(3)]
    orders = {team.id: [str(factory.order(team=team).id) for _ in range(ORDERS_PER_TEAM)]
              for team in teams}
    base = gunicorn_server(workers=4 if backend() == "postgresql" else 2,
                           FIELDSYNC_TEST_COMMIT_DELAY_MAX="0.03")
    readers = [HttpTablet(base, *factory.device(team=team))
               for team in (teams[0], teams[0], teams[1], teams[2])]
    for reader in readers:
        reader.pull_until_done()
    pushers = [HttpTablet(base, *factory.device(team=teams[i % 3])) for i in range(5)]
    dispatch = requests.Session()
    dispatch.headers.update(factory.staff_headers("dispatcher"))
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def crew_writer(tablet: HttpTablet, team_id) -> None:
        rng = random.Random()
        for _ in range(WRITER_OPERATIONS):
            tablet.push(rng.choice(PUSH_KINDS), rng.choice(orders[team_id]))

    def dispatcher_writer(seed: int) -> None:
        rng = random.Random(seed)
        for step in range(WRITER_OPERATIONS):
            team = rng.choice(teams)
            order_id = rng.choice(orders[rng.choice(teams).id])
            action = step % 4
            if action == 0:
                response = dispatch.post(f"{base}/api/v1/orders", json={
                    "source": "hotline", "kind": "fault_repair", "title": f"Call {seed}-{step}",
                    "priority": rng.choice(("urgent", "normal")), "customer": {"name": "Wu"},
                    "assignment": {"team_id": str(team.id), "user_ids": []}}, timeout=30)
                assert response.status_code == 201, response.text
                orders[team.id].append(response.json()["id"])
            elif action == 1:
                response = dispatch.post(f"{base}/api/v1/orders/{order_id}/assign",
                                         json={"team_id": str(team.id)}, timeout=30)
                assert response.status_code in (200, 409), response.text
            elif action == 2:
                current = dispatch.get(f"{base}/api/v1/orders/{order_id}", timeout=30)
                response = dispatch.patch(f"{base}/api/v1/orders/{order_id}",
                                          json={"title": f"Edited {seed}-{step}"},
                                          headers={"If-Match": current.headers["ETag"]},
                                          timeout=30)
                assert response.status_code in (200, 409, 412), response.text
            elif rng.random() < 0.3:
                response = dispatch.post(f"{base}/api/v1/orders/{order_id}/cancel",
                                         json={"reason": "duplicate call"}, timeout=30)
                assert response.status_code in (200, 409), response.text

    def reader_loop(tablet: HttpTablet) -> None:
        while writing.is_set():
            tablet.pull_until_done()
            time.sleep(0.01)

    def guarded(target, *args):
        def run():
            try:
                target(*args)
            except BaseException as error:  # reported by the main thread
                errors.append(error)
        return threading.Thread(target=run)

    writers = [guarded(crew_writer, tablet, teams[i % 3].id) for i, tablet in enumerate(pushers)]
    writers += [guarded(dispatcher_writer, seed) for seed in range(3)]
    reading = [guarded(reader_loop, reader) for reader in readers]
    for thread in writers + reading:
        thread.start()
    for thread in writers:
        thread.join(timeout=120)
    writing.clear()
    for thread in reading:
        thread.join(timeout=60)
    assert not errors, errors

    for reader, team in zip(readers, (teams[0], teams[0], teams[1], teams[2]), strict=True):
        reader.pull_until_done()
        held = {entity_id: version for (kind, entity_id), version in reader.store.items()
                if kind == "order"}
        assert held == _scope_versions(app, team.id)
        assert reader.digest == expected_digest(app, team.id)


def _scope_versions(app, team_id) -> dict[str, int]:
    week_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    with app.app_context(), db.transaction() as session:
        return {
            str(order.id): order.version
            for order in session.scalars(select(Order).where(Order.team_id == team_id))
            if order.status in ("assigned", "en_route", "on_site")
            or (order.status == "completed" and order.completed_at >= week_ago)
        }
