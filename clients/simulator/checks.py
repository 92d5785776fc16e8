"""The end-of-run checks: nothing lost, nothing doubled, stores equal the server, media and
audit chains intact. Each check reads the server over HTTP, as any auditor could."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests

from clients.python import DeviceClient
from clients.python.digest import scope_digest

GENESIS = "0" * 64


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str


class StaffReader:
    """Paginated reads with an admin token, straight to the server (no faults)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.base_url + path, params=params, timeout=60)

    def all_items(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {"limit": 500, **params}
            if cursor:
                query["cursor"] = cursor
            response = self.get(path, **query)
            response.raise_for_status()
            body = response.json()
            items.extend(body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return items


def chain_problems(events: list[dict[str, Any]]) -> list[str]:
    """Recompute one order's hash chain from its served events (PROTOCOL.md section 6)."""
    problems = []
    prev = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        document = {k: v for k, v in event.items() if k != "hash"}
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
        if event.get("seq") != expected_seq:
            problems.append(f"seq {event.get('seq')} where {expected_seq} expected")
        if event.get("prev_hash") != prev:
            problems.append(f"seq {event.get('seq')} does not link to its predecessor")
        if hashlib.sha256((prev + canonical).encode()).hexdigest() != event.get("hash"):
            problems.append(f"seq {event.get('seq')} hash mismatch")
        prev = event.get("hash", "")
    return problems


@dataclass
class ServerRecord:
    orders: list[dict[str, Any]]
    events: dict[str, list[dict[str, Any]]]
    rejections: list[dict[str, Any]]

    def events_by_mutation(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for events in self.events.values():
            for event in events:
                if event.get("mutation_id"):
                    counts[event["mutation_id"]] += 1
        return counts

    def rejections_by_mutation(self) -> dict[str, int]:
        return Counter(str(r.get("mutation_id") or r.get("id")) for r in self.rejections)


def read_server(reader: StaffReader) -> ServerRecord:
    orders = reader.all_items("/api/v1/orders")
    events = {str(o["id"]): reader.all_items(f"/api/v1/orders/{o['id']}/audit") for o in orders}
    try:
        rejections = reader.all_items("/api/v1/sync/rejections")
    except requests.HTTPError:
        rejections = []
    return ServerRecord(orders=orders, events=events, rejections=rejections)


def check_mutations(clients: Iterable[DeviceClient], server: ServerRecord) -> CheckResult:
    """Every mutation any device created is on the server exactly once, as its device says."""
    applied = server.events_by_mutation()
    rejected = server.rejections_by_mutation()
    states: Counter[str] = Counter()
    problems: list[str] = []
    total = 0
    for client in clients:
        for mutation in client.store.mutations():
            total += 1
            states[mutation.state] += 1
            in_trail, in_rejections = applied.get(mutation.id, 0), rejected.get(mutation.id, 0)
            if mutation.state == "pending":
                problems.append(f"{mutation.id} ({mutation.type}) never settled")
            elif mutation.type == "report_location":
                if mutation.state == "rejected" and in_rejections != 1:
                    problems.append(f"{mutation.id} location rejected but not listed")
            elif mutation.state == "rejected":
                if in_rejections != 1 or in_trail != 0:
                    problems.append(f"{mutation.id} rejected: listed {in_rejections}x, "
                                    f"in trail {in_trail}x")
                elif not mutation.code:
                    problems.append(f"{mutation.id} rejected without a reason")
            elif in_trail != 1 or in_rejections != 0:
                problems.append(f"{mutation.id} ({mutation.type}, {mutation.state}) in trail "
                                f"{in_trail}x, rejected {in_rejections}x")
    doubled = [m for m, n in applied.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} mutation ids appear in the audit trail more than once")
    summary = ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    detail = f"{total} mutations: {summary}"
    if problems:
        detail += f"; {len(problems)} problems, e.g. {problems[:3]}"
    return CheckResult("every mutation accounted for exactly once", not problems, detail)


def server_scope(base_url: str, token: str) -> tuple[dict[tuple[str, str], int], str | None]:
    """What the server says a device's scope is, by a fresh pull from no cursor."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    versions: dict[tuple[str, str], int] = {}
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        response = session.get(base_url + "/api/v1/sync/pull", params=params, timeout=60)
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        response.raise_for_status()
        page = response.json()
        for change in page["changes"]:
            key = (change["type"], str(change["id"]))
            if change["op"] == "remove":
                versions.pop(key, None)
            else:
                versions[key] = int(change["version"])
        cursor = page.get("cursor")
        if not page.get("has_more"):
            return versions, page.get("scope_digest")


def check_stores(clients: Iterable[DeviceClient], base_url: str) -> CheckResult:
    problems = []
    count = 0
    for client in clients:
        count += 1
        token = client.store.get("token") or ""
        expected, digest = server_scope(base_url, token)
        held = client.store.entity_versions()
        local = scope_digest((t, i, v) for (t, i), v in held.items())
        if held != expected:
            missing = set(expected) - set(held)
            extra = set(held) - set(expected)
            stale = [k for k in set(held) & set(expected) if held[k] != expected[k]]
            problems.append(f"{client.device_id[:8]}: missing {len(missing)}, extra "
                            f"{len(extra)}, stale {len(stale)}")
        elif digest is not None and digest != local:
            problems.append(f"{client.device_id[:8]}: digest {local} != server {digest}")
    detail = f"{count} devices compared (entities, versions, scope digest)"
    if problems:
        detail += f"; {len(problems)} differ, e.g. {problems[:3]}"
    return CheckResult("every device store equals the server's view of its scope",
                       not problems, detail)


def check_media(clients: Iterable[DeviceClient], reader: StaffReader,
                server: ServerRecord) -> CheckResult:
    media_on_orders: Counter[str] = Counter()
    for order in server.orders:
        for item in order.get("media") or []:
            media_on_orders[str(item.get("id"))] += 1
    states: Counter[str] = Counter()
    problems = []
    for client in clients:
        for upload in client.store.uploads():
            states[upload.state] += 1
            if upload.state == "pending":
                problems.append(f"{upload.media_id} never uploaded")
                continue
            if upload.state == "refused":
                continue
            record = reader.get(f"/api/v1/media/{upload.media_id}")
            content = reader.get(f"/api/v1/media/{upload.media_id}/content")
            if record.status_code != 200 or content.status_code != 200:
                problems.append(f"{upload.media_id}: {record.status_code}/{content.status_code}")
                continue
            digest = hashlib.sha256(content.content).hexdigest()
            if digest != upload.sha256 or record.json().get("sha256") != upload.sha256:
                problems.append(f"{upload.media_id}: hash changed")
            if media_on_orders.get(upload.media_id, 0) > 1:
                problems.append(f"{upload.media_id}: listed {media_on_orders[upload.media_id]}x")
    refused = [u for c in clients for u in c.store.uploads("refused")]
    reasons = Counter((u.error or "").split(":")[0] for u in refused)
    detail = ", ".join(f"{k} {v}" for k, v in sorted(states.items())) or "no media"
    if reasons:
        detail += f" (refusals: {dict(reasons)})"
    if problems:
        detail += f"; {len(problems)} problems, e.g. {problems[:3]}"
    return CheckResult("every photo stored once with its hash intact", not problems, detail)


def check_audit_chains(server: ServerRecord) -> CheckResult:
    broken = {oid: p for oid, events in server.events.items() if (p := chain_problems(events))}
    total = sum(len(e) for e in server.events.values())
    detail = f"{len(server.events)} orders, {total} events recomputed client-side"
    if broken:
        detail += f"; {len(broken)} broken, e.g. {list(broken.items())[:2]}"
    return CheckResult("every audit chain verifies (client-side)", not broken, detail)


def check_verify_audit_command(result: tuple[int, str]) -> CheckResult:
    code, output = result
    last = output.splitlines()[-1] if output else ""
    return CheckResult("flask verify-audit", code == 0, f"exit {code}: {last[:120]}")


def summarise_rejections(server: ServerRecord) -> str:
    reasons: defaultdict[str, int] = defaultdict(int)
    for item in server.rejections:
        reasons[str(item.get("code"))] += 1
    return ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "none"
