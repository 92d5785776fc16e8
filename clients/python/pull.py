"""Pull phase: page through changes until `has_more` is false, then check the scope digest.

An incremental pull applies each page and its cursor in one store transaction. A full pull
(no cursor: first sync, `cursor_expired`, digest mismatch) gathers the snapshot and replaces
the server state in one transaction at the end, so a crash halfway leaves the old state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clients.python.digest import scope_digest
from clients.python.errors import SyncError
from clients.python.store import Store
from clients.python.transport import Transport

PULL_PATH = "/api/v1/sync/pull"
Progress = Callable[[str, int, int], None]


class CursorExpired(SyncError):
    """The server's change log no longer reaches our cursor: pull everything again."""


@dataclass
class PullOutcome:
    changes: int
    server_digest: str | None
    local_digest: str
    server_time: str | None

    @property
    def digest_ok(self) -> bool:
        return self.server_digest is None or self.server_digest == self.local_digest


def _fetch(transport: Transport, cursor: str | None, limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    response = transport.request("GET", PULL_PATH, params=params, expect=(200, 410))
    if response.status_code == 410:
        raise CursorExpired("cursor expired", status=410, code="cursor_expired")
    return response.json()


def _apply_change(store: Store, change: dict[str, Any]) -> None:
    if change.get("op") == "remove":
        store.remove_entity(change["type"], change["id"])
    else:
        store.upsert_entity(change["type"], change["id"], int(change["version"]),
                            change.get("order_id"), change.get("data") or {})


def _snapshot_key(change: dict[str, Any]) -> tuple[str, str]:
    return (change["type"], str(change["id"]))


def pull_changes(store: Store, transport: Transport, *, full: bool, limit: int = 500,
                 progress: Progress | None = None) -> PullOutcome:
    cursor = None if full else store.get("cursor")
    full = cursor is None
    snapshot: dict[tuple[str, str], dict[str, Any]] = {}
    pulled = 0
    while True:
        page = _fetch(transport, cursor, limit)
        changes = page.get("changes", [])
        pulled += len(changes)
        cursor = page.get("cursor")
        if full:
            for change in changes:
                if change.get("op") == "remove":
                    snapshot.pop(_snapshot_key(change), None)
                    if change["type"] == "order":
                        for key in [k for k, v in snapshot.items()
                                    if v.get("order_id") == change["id"] and k[0] == "media"]:
                            snapshot.pop(key)
                else:
                    snapshot[_snapshot_key(change)] = change
        else:
            with store.transaction():
                for change in changes:
                    _apply_change(store, change)
                store.put("cursor", cursor)
        if progress is not None:
            progress("pull", pulled, int(page.get("remaining") or 0))
        if not page.get("has_more"):
            break
    if full:
        with store.transaction():
            store.clear_entities()
            for change in snapshot.values():
                _apply_change(store, change)
            store.put("cursor", cursor)
    local = scope_digest((t, i, v) for (t, i), v in store.entity_versions().items())
    return PullOutcome(changes=pulled, server_digest=page.get("scope_digest"), local_digest=local,
                       server_time=page.get("server_time"))
