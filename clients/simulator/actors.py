"""The simulated people: crews working orders on flaky tablets, dispatchers, CS agents."""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from clients.python import DeviceClient, DeviceRevoked
from clients.python.client import location
from clients.simulator.images import make_photo, make_signature
from clients.simulator.seed import CAUSES, CrewMember, new_order_body

log = logging.getLogger(__name__)


@dataclass
class Activity:
    """What one kind of actor managed to do; `unavailable` lists endpoints that were missing."""

    name: str
    counts: Counter[str] = field(default_factory=Counter)
    unavailable: set[str] = field(default_factory=set)

    @property
    def active(self) -> bool:
        return sum(v for k, v in self.counts.items() if k.endswith("ok")) > 0


class CrewActor(threading.Thread):
    """One crew member and their tablet: works the orders it sees, often offline."""

    def __init__(self, member: CrewMember, client: DeviceClient, workdir: Path,
                 stop: threading.Event, activity: Activity, seed: int,
                 offline_rate: float = 0.15) -> None:
        super().__init__(name=f"crew-{member.device_id[:8]}", daemon=True)
        self.member = member
        self.client = client
        self.workdir = workdir
        self.stop_event = stop
        self.activity = activity
        self.rng = random.Random(seed)
        self.offline_rate = offline_rate
        self.offline_until = 0.0
        self.lock = activity_lock
        self.failure: BaseException | None = None

    def _count(self, key: str) -> None:
        with self.lock:
            self.activity.counts[key] += 1

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                self.step()
                self.stop_event.wait(self.rng.uniform(0.3, 1.2))
        except BaseException as error:  # noqa: BLE001 - reported by the fleet runner
            self.failure = error
            log.exception("crew actor failed")

    def step(self) -> None:
        now = time.monotonic()
        if now < self.offline_until:
            self.act()
            return
        if self.rng.random() < self.offline_rate:
            self.offline_until = now + self.rng.uniform(2, 8)
            self._count("went offline")
            self.act()
            return
        self.act()
        try:
            result = self.client.sync()
        except DeviceRevoked:
            self._count("revoked")
            self.stop_event.wait(1)
            return
        self._count("sync ok" if not result.errors else "sync with errors")

    def act(self) -> None:
        orders = [o for o in self.client.orders() if o.get("status") != "cancelled"]
        if self.rng.random() < 0.1:
            self.client.report_location(location(28.6 + self.rng.uniform(-0.1, 0.1),
                                                 115.8 + self.rng.uniform(-0.1, 0.1), 15))
            self._count("location ok")
        if not orders:
            return
        order = self.rng.choice(orders)
        order_id = str(order["id"])
        status = order.get("status")
        if status == "assigned":
            self.client.depart(order_id)
            self._count("depart ok")
        elif status == "en_route":
            self.client.arrive(order_id, location(28.6 + self.rng.uniform(-0.01, 0.01),
                                                  115.8 + self.rng.uniform(-0.01, 0.01), 8))
            self._count("arrive ok")
        elif status == "on_site":
            self.work_on_site(order_id)
        elif status == "completed" and self.rng.random() < 0.2:
            self.client.add_note(order_id, "Follow-up remark after completion")
            self._count("note ok")

    def work_on_site(self, order_id: str) -> None:
        roll = self.rng.random()
        if roll < 0.2:
            self.client.set_cause(order_id, self.rng.choice(CAUSES), "Found on site")
            self._count("cause ok")
        elif roll < 0.35:
            eta = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=self.rng.randint(10, 120))
            self.client.set_eta(order_id, eta)
            self._count("eta ok")
        elif roll < 0.5:
            self.client.add_note(order_id, f"Note {uuid.uuid4().hex[:6]}")
            self._count("note ok")
        elif roll < 0.65:
            path = self.workdir / f"photo-{uuid.uuid4().hex}.jpg"
            make_photo(path, self.rng, large=self.rng.random() < 0.3)
            self.client.attach_photo(order_id, path)
            self._count("photo ok")
        else:
            path = make_signature(self.workdir / f"signature-{uuid.uuid4().hex}.png", self.rng)
            signature = self.client.attach_signature(order_id, path)
            self.client.complete(order_id, "repaired", "Fixed by the simulation",
                                 signature_media_id=signature)
            self._count("complete ok")


activity_lock = threading.Lock()


class StaffActor(threading.Thread):
    """A dispatcher or agent using the staff HTTP API; degrades if an endpoint is missing."""

    def __init__(self, role: str, base_url: str, token: str, order_ids: list[str],
                 team_ids: list[str], stop: threading.Event, activity: Activity,
                 seed: int) -> None:
        super().__init__(name=f"staff-{role}", daemon=True)
        self.role = role
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.order_ids = order_ids
        self.team_ids = team_ids
        self.stop_event = stop
        self.activity = activity
        self.rng = random.Random(seed)
        self.serial = 0
        self.failure: BaseException | None = None

    def _count(self, key: str) -> None:
        with activity_lock:
            self.activity.counts[key] += 1

    def call(self, action: str, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        if action in self.activity.unavailable:
            return None
        try:
            response = self.session.request(method, self.base_url + path, timeout=30, **kwargs)
        except requests.RequestException:
            self._count(f"{action} failed")
            return None
        if response.status_code in (404, 405) and "not_found" not in response.text[:400]:
            with activity_lock:
                self.activity.unavailable.add(action)
            return None
        self._count(f"{action} ok" if response.ok else f"{action} {response.status_code}")
        return response

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                if self.role == "dispatcher":
                    self.dispatch()
                else:
                    self.follow_up()
                self.stop_event.wait(self.rng.uniform(1.0, 3.0))
        except BaseException as error:  # noqa: BLE001 - reported by the fleet runner
            self.failure = error
            log.exception("%s actor failed", self.role)

    def dispatch(self) -> None:
        roll = self.rng.random()
        order_id = self.rng.choice(self.order_ids)
        if roll < 0.45:
            self.call("reassign", "POST", f"/api/v1/orders/{order_id}/assign",
                      json={"team_id": self.rng.choice(self.team_ids), "user_ids": []})
        elif roll < 0.6:
            self.call("cancel", "POST", f"/api/v1/orders/{order_id}/cancel",
                      json={"reason": "Customer withdrew the request"})
        else:
            self.serial += 1
            response = self.call("create", "POST", "/api/v1/orders",
                                 json=new_order_body(self.rng.choice(self.team_ids), self.serial),
                                 headers={"Idempotency-Key": str(uuid.uuid4())})
            if response is not None and response.ok:
                self.order_ids.append(response.json()["id"])

    def follow_up(self) -> None:
        response = self.call("list pending visits", "GET", "/api/v1/visits/pending",
                             params={"limit": 50})
        if response is None or not response.ok:
            return
        items = response.json().get("items", [])
        if not items:
            return
        item = self.rng.choice(items)
        self.call("visit", "POST", f"/api/v1/orders/{item['id']}/visits", json={
            "id": str(uuid.uuid4()),
            "contacted_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "channel": self.rng.choice(["phone", "sms"]), "reached": True,
            "satisfaction": self.rng.randint(1, 5), "comment": "Simulated follow-up",
            "outcome": "reopen" if self.rng.random() < 0.3 else "resolved"})
