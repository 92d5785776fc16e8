"""Delta sync for crew tablets (PROTOCOL.md section 4): pull, push, and the rejections list.

Pull and push answer with the JSON provider directly (no marshmallow dump of every change):
the schemas document the shapes in the OpenAPI spec.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import current_app
from flask.views import MethodView
from sqlalchemy import select

from schemas.sync import (
    PullArgs,
    PullResponse,
    PushRequest,
    PushResponse,
    RejectionArgs,
    RejectionList,
)
from server import metrics
from server.api import Blueprint
from server.auth.principal import current_principal, require_device, require_roles
from server.db import consistent_snapshot, db
from server.domain.devices import last_sync_is_stale
from server.domain.pagination import keyset_page
from server.errors import BatchTooLarge, CursorExpired, InvalidCursor, RateLimited
from server.json_provider import to_rfc3339
from server.models.base import utcnow
from server.models.people import Device
from server.models.sync import MutationRejection
from sync import cursor as cursor_codec
from sync.pull import STATE_COLUMNS, CursorGone, pull
from sync.pull_limit import take_pull_token
from sync.push import PushContext, apply_batch

blp = Blueprint("sync", __name__, description="Delta sync for crew tablets.")

#: Matches no team: the scope of a device whose user has none is empty.
NO_TEAM = uuid.UUID(int=0)


def _cursor_keys() -> list[bytes]:
    settings = current_app.config["SETTINGS"]
    return [cursor_codec.signing_key(key)
            for key in (settings.secret_key, *settings.old_secret_keys)]


def _check_rate(device_id: uuid.UUID, now: dt.datetime) -> None:
    settings = current_app.config["SETTINGS"]
    if settings.pull_min_interval <= 0:
        return
    with db.transaction(durable=False) as session:  # a lost token on a crash harms nothing
        wait = take_pull_token(session, device_id, now, min_interval=settings.pull_min_interval,
                               burst=settings.pull_burst)
    if wait is not None:
        raise RateLimited(wait, f"Pulling too often; retry after {wait} s.")


def _note_sync(device_id: uuid.UUID, last_sync_at: dt.datetime | None, now: dt.datetime) -> None:
    if not last_sync_is_stale(last_sync_at, now):
        return
    with db.transaction() as session:
        device = session.get(Device, device_id)
        if device is not None:
            device.last_sync_at = now


@blp.route("/sync/pull")
class Pull(MethodView):
    # One snapshot for the whole pull (authentication included), so data, cursor and digest
    # agree.
    @consistent_snapshot
    @require_device(also_read=STATE_COLUMNS)
    # An instance: given the class, webargs would build a schema on every request.
    @blp.arguments(PullArgs(), location="query", as_kwargs=True)
    @blp.response(200, PullResponse)
    def get(self, cursor: str | None, limit: int):
        """Pull what changed in the device's scope since `cursor` (none: full snapshot).

        Pages come most urgent first on a full snapshot; repeat with the returned cursor while
        `has_more` is true. 400 `invalid_cursor` for a cursor this server did not issue, 410
        `cursor_expired` when the change log no longer reaches it (pull again without one),
        429 `rate_limited` with `Retry-After` for a device that pulls too often.
        """
        principal = current_principal()
        now = utcnow()
        position = None
        if cursor:
            try:
                position = cursor_codec.decode(cursor, _cursor_keys())
            except cursor_codec.CursorError as error:
                raise InvalidCursor("The cursor is not one this server issued.") from error
            if position.team_id != str(principal.team_id or NO_TEAM):
                raise CursorExpired("The device's team changed: pull again without a cursor.")
        _check_rate(principal.device_id, now)
        try:
            page = pull(db.session, team_id=principal.team_id or NO_TEAM,
                        device_id=principal.device_id, cursor=position, limit=limit, now=now,
                        state=principal.also_read)
        except CursorGone as error:
            raise CursorExpired("The change log no longer reaches this cursor: pull again "
                                "without one.") from error
        _note_sync(principal.device_id, page.last_sync_at, now)
        metrics.SYNC_PULLS.inc()
        return current_app.json.response({
            "cursor": cursor_codec.encode(page.cursor, _cursor_keys()[0]),
            "has_more": page.has_more,
            "remaining": page.remaining,
            "scope_digest": page.digest,
            "server_time": to_rfc3339(now),
            "changes": page.changes,
        })


@blp.route("/sync/push", methods=["POST"])
@require_device(also_read=(Device.__table__.c.last_sync_at,))
@blp.arguments(PushRequest)
@blp.response(200, PushResponse)
def push(data: dict[str, Any]):
    """Push mutations made offline; each is applied on its own, exactly once.

    Results come in the order of the mutations: `applied`, `merged` (kept, but a merge rule
    chose another value), `duplicate` (already processed; `original_status` and the original
    code, detail and order_version) or `rejected` with a code. More mutations than the limit
    (500) is 413 `batch_too_large` and applies nothing.
    """
    settings = current_app.config["SETTINGS"]
    mutations = data["mutations"]
    if len(mutations) > settings.max_push_mutations:
        raise BatchTooLarge(f"At most {settings.max_push_mutations} mutations per push.")
    principal = current_principal()
    now = utcnow()
    context = PushContext(device_id=principal.device_id, user_id=principal.user_id,
                          team_id=principal.team_id, now=now,
                          skew_bound_ms=settings.clock_skew_bound_seconds * 1000,
                          stored_skew_ms=principal.clock_skew_ms,
                          stored_last_sync_at=principal.also_read[0])
    results = apply_batch(db.session, context, mutations)
    for result in results:
        metrics.SYNC_MUTATIONS.labels(result=result["status"]).inc()
    for rule in context.rules:
        metrics.MERGE_DECISIONS.labels(rule=rule).inc()
    return current_app.json.response({"results": results, "server_time": to_rfc3339(now)})


@blp.route("/sync/rejections")
@require_roles("dispatcher", "admin")
@blp.arguments(RejectionArgs, location="query", as_kwargs=True)
@blp.response(200, RejectionList)
def rejections(limit: int, cursor: str | None, device_id: uuid.UUID | None,
               order_id: uuid.UUID | None, code: str | None):
    """List rejected mutations with their payload, oldest first (filters: device, order, code)."""
    query = select(MutationRejection)
    if device_id is not None:
        query = query.where(MutationRejection.device_id == device_id)
    if order_id is not None:
        query = query.where(MutationRejection.order_id == order_id)
    if code is not None:
        query = query.where(MutationRejection.code == code)
    return keyset_page(db.session, query, MutationRejection, limit=limit, cursor=cursor).as_dict()
