"""Push phase: send the outbox in batches and settle each mutation by its result."""

from __future__ import annotations

import logging
from collections.abc import Callable

from clients.python.result import SyncResult
from clients.python.store import Store
from clients.python.transport import Transport

log = logging.getLogger(__name__)

PUSH_PATH = "/api/v1/sync/push"
MAX_BATCH = 500
OUTCOME_FIELDS = ("original_status", "outcome")


def settled_state(result: dict) -> str:
    """The state a mutation keeps: a duplicate of a rejected mutation is still a rejection."""
    status = result.get("status")
    if status == "duplicate":
        original = next((result[f] for f in OUTCOME_FIELDS if result.get(f)), None)
        if original == "rejected":
            return "rejected"
    return str(status)


def push_outbox(store: Store, transport: Transport, result: SyncResult,
                observe_server_time: Callable[[str], None], *, batch_size: int = MAX_BATCH,
                checkpoint: Callable[[str], None] = lambda name: None) -> None:
    """Push until the outbox holds nothing pending (or the server stops settling anything)."""
    batch_size = min(batch_size, MAX_BATCH)
    while True:
        batch = store.pending(batch_size)
        if not batch:
            return
        store.mark_attempt([m.id for m in batch])
        response = transport.request("POST", PUSH_PATH,
                                     json={"mutations": [m.wire() for m in batch]})
        body = response.json()
        checkpoint("before_settle")
        if body.get("server_time"):
            observe_server_time(body["server_time"])
        settled = 0
        sent = {m.id for m in batch}
        with store.transaction():
            for item in body.get("results", []):
                if item.get("id") not in sent:
                    continue
                state = settled_state(item)
                if state not in ("applied", "merged", "duplicate", "rejected"):
                    log.warning("unknown push status %r for %s", item.get("status"), item.get("id"))
                    continue
                store.settle(item["id"], state, item.get("code"), _detail(item),
                             item.get("order_version"))
                settled += 1
                result.pushed += 1
                status = item.get("status")
                if status == "applied":
                    result.applied += 1
                elif status == "merged":
                    result.merged += 1
                elif status == "duplicate":
                    result.duplicates += 1
                if state == "rejected":
                    result.rejected += 1
        checkpoint("after_push")
        if settled == 0:
            result.errors.append("the server settled none of the mutations pushed")
            return


def _detail(item: dict) -> str | None:
    detail = item.get("detail")
    errors = item.get("errors")
    if errors:
        detail = f"{detail or ''} {errors}".strip()
    return detail
