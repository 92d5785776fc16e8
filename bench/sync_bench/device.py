"""A simulated tablet: an HTTP keep-alive connection, a local store of entity versions, a cursor
and an outbox generator whose every mutation should apply on the server."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.sync_bench.http_wire import ConnectionClosed, WireConnection
from bench.sync_bench.seed import SeededDevice

PULL_PATH = "/api/v1/sync/pull"
PUSH_PATH = "/api/v1/sync/push"
MAX_PULL_PAGES = 1000


class RequestFailed(Exception):
    """A non-2xx answer or a broken connection: counted as an error by the workloads."""


def scope_digest(versions: dict[tuple[str, str], int]) -> str:
    """PROTOCOL.md section 4: XOR of the first 16 bytes of sha256("{type}:{id}:{version}")."""
    acc = 0
    for (kind, entity_id), version in versions.items():
        raw = hashlib.sha256(f"{kind}:{entity_id}:{version}".encode()).digest()
        acc ^= int.from_bytes(raw[:16])
    return f"{acc:032x}"


def rfc3339(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass
class Outbox:
    """Mutations over the device's share of its team's orders: arrive, set_cause, set_eta, complete
    per order (each really changes the order), then notes (grow-only, always applied)."""

    device_id: str
    order_ids: list[str]
    counter: Iterator[int] = field(default_factory=itertools.count)
    _plan: Iterator[tuple[str, str]] | None = None

    def _steps(self) -> Iterator[tuple[str, str]]:
        for order_id in self.order_ids:
            for kind in ("arrive", "set_cause", "set_eta", "complete"):
                yield kind, order_id
        for order_id in itertools.cycle(self.order_ids):
            yield "add_note", order_id

    def _hlc(self) -> str:
        return f"{int(time.time() * 1000):013d}-{next(self.counter) % 0x10000:04x}-{self.device_id}"

    def take(self, count: int, versions: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
        if self._plan is None:
            self._plan = self._steps()
        now = dt.datetime.now(dt.UTC)
        stamp = rfc3339(now)
        batch = []
        for kind, order_id in itertools.islice(self._plan, count):
            batch.append({
                "id": str(uuid.uuid4()), "order_id": order_id, "type": kind, "hlc": self._hlc(),
                "at": stamp, "base_version": versions.get(("order", order_id), 0),
                "data": _mutation_data(kind, now),
            })
        return batch


def _mutation_data(kind: str, now: dt.datetime) -> dict[str, Any]:
    stamp = rfc3339(now)
    if kind == "arrive":
        return {"arrived_at": stamp, "location": {"lat": 28.68, "lon": 115.86, "accuracy_m": 12}}
    if kind == "set_cause":
        return {"cause_code": "cable_fault", "cause_text": "Underground cable joint failed"}
    if kind == "set_eta":
        return {"eta": rfc3339(now + dt.timedelta(hours=2))}
    if kind == "complete":
        return {"completed_at": stamp, "resolution_code": "repaired",
                "resolution_text": "Joint replaced, supply restored"}
    return {"text": f"Bench note at {stamp}"}


@dataclass
class PullResult:
    pages: int
    changes: int
    digest_ok: bool


class JsonClient:
    """A keep-alive connection to one server that answers JSON. Not thread-safe: each driver
    thread owns its clients."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.headers = headers
        self.conn: WireConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: bytes | None = None) -> Any:
        """One HTTP exchange on the keep-alive connection (reopened when the server closed it)."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = WireConnection(self.port, self.headers)
            try:
                response = self.conn.exchange(method, path, body)
            except (ConnectionClosed, BrokenPipeError, ConnectionResetError) as error:
                # A kept-alive connection the server closed while idle: a GET is safe to resend.
                self.close()
                if attempt == 2 or method != "GET":
                    raise RequestFailed(f"{method} {path}: {error!r}") from error
                continue
            except OSError as error:
                self.close()
                raise RequestFailed(f"{method} {path}: {error!r}") from error
            if not 200 <= response.status < 300:
                raise RequestFailed(f"{method} {path}: {response.status} {response.body[:300]!r}")
            return orjson.loads(response.body)
        raise AssertionError("unreachable")


class Device(JsonClient):
    """One tablet of Fieldsync."""

    def __init__(self, seeded: SeededDevice, port: int) -> None:
        super().__init__(port, {"Authorization": f"Bearer {seeded.token}",
                                "Accept": "application/json"})
        self.seeded = seeded
        self.cursor: str | None = None
        self.versions: dict[tuple[str, str], int] = {}
        self.outbox: Outbox | None = None
        self.last_digest: str | None = None

    def pull_page(self, cursor: str | None, limit: int | None = None) -> dict[str, Any]:
        query = []
        if cursor is not None:
            query.append(f"cursor={cursor}")
        if limit is not None:
            query.append(f"limit={limit}")
        return self.request("GET", PULL_PATH + ("?" + "&".join(query) if query else ""))

    def apply(self, page: dict[str, Any]) -> None:
        for change in page["changes"]:
            key = (change["type"], str(change["id"]))
            if change["op"] == "remove":
                self.versions.pop(key, None)
            else:
                self.versions[key] = change["version"]

    def pull_to_end(self, *, from_scratch: bool = False) -> PullResult:
        """Pull pages until `has_more` is false; check the digest of the local store."""
        if from_scratch:
            self.cursor = None
            self.versions = {}
        pages = changes = 0
        while True:
            page = self.pull_page(self.cursor)
            pages += 1
            changes += len(page["changes"])
            self.apply(page)
            self.cursor = page["cursor"]
            if not page["has_more"]:
                break
            if pages >= MAX_PULL_PAGES:
                raise RequestFailed("pull did not finish within the page bound")
        self.last_digest = page.get("scope_digest")
        return PullResult(pages, changes, self.last_digest == scope_digest(self.versions))

    def push(self, mutations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = self.request("POST", PUSH_PATH, orjson.dumps({"mutations": mutations}))
        for result, mutation in zip(response["results"], mutations, strict=False):
            if result.get("order_version") is not None:
                key = ("order", mutation["order_id"])
                self.versions[key] = max(self.versions.get(key, 0), result["order_version"])
        return response["results"]

    def order_ids(self) -> list[str]:
        return sorted(entity_id for kind, entity_id in self.versions if kind == "order")
