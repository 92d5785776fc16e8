"""Durable store-then-commit of a finished upload, the one path for direct and tus uploads.

Order of work, so that a failure at any point leaves no record and no file:
the file is already fsynced in the temp area -> hash checked -> idempotency on the media id ->
Pillow verification and thumbnail (temp) -> rename into the content-addressed store (with a
directory fsync) -> order locked, record, order summary, audit event and feed entry flushed ->
the request commits. If the transaction rolls back, the files this upload created are removed
(`_on_outcome`); if the process dies between the rename and the commit, `sweep-media` removes
the orphan once it is older than its grace period.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from media import signatures
from media.images import examine
from media.incoming import IncomingFile
from media.storage import MediaStore, StoreError, content_key, new_temp_file, remove_quietly
from media.storage import thumbnail_key as make_thumbnail_key
from server.domain.audit import Actor
from server.domain.history import lock_order, record_order_change
from server.domain.scope import foreign_work_kind
from server.errors import InvalidImage, MediaIdReused, ServiceUnavailable
from server.json_provider import to_rfc3339
from server.models.base import utcnow
from server.models.media import Media
from server.models.orders import Order
from sync import feed
from sync.review import record_conflict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaClaim:
    """What the client says about the file (multipart fields or tus metadata)."""

    order_id: uuid.UUID
    media_id: uuid.UUID
    kind: str
    sha256: str | None
    taken_at: dt.datetime
    location: dict[str, Any] | None = None
    claimed_type: str | None = None
    filename: str | None = None


@dataclass(frozen=True)
class Uploader:
    """Who sends the file: its actor for the audit trail and the event source."""

    actor: Actor
    source: str
    #: The crew's team for device uploads: work on an order taken away meanwhile is flagged.
    team_id: uuid.UUID | None = None


def find_existing(session: Session, claim: MediaClaim, sha256: str) -> Media | None:
    """The record a retry of this upload already created; 409 if the id names other content."""
    existing = session.get(Media, claim.media_id)
    if existing is None:
        return None
    if existing.sha256 != sha256 or existing.order_id != claim.order_id:
        raise MediaIdReused("This media id already names another file.")
    return existing


def accept(session: Session, store: MediaStore, uploader: Uploader, claim: MediaClaim,
           incoming: IncomingFile) -> tuple[Media, bool]:
    """Verify, store and record `incoming`; returns (media, created). Consumes the temp file.

    The caller has checked that the uploader may see the order.
    """
    try:
        if claim.sha256 is not None and claim.sha256 != incoming.sha256:
            raise InvalidImage(
                "The file's sha256 does not match the declared one.",
                errors={"sha256": [f"The file's sha256 is {incoming.sha256}."]},
            )
        existing = find_existing(session, claim, incoming.sha256)
        if existing is not None:
            return existing, False
        return _store_and_record(session, store, uploader, claim, incoming), True
    finally:
        incoming.discard()


def _store_and_record(session: Session, store: MediaStore, uploader: Uploader,
                      claim: MediaClaim, incoming: IncomingFile) -> Media:
    thumb_handle, thumb_path = new_temp_file(store, suffix=".thumb")
    thumb_handle.close()
    try:
        facts = examine(incoming.path, kind=claim.kind, claimed_type=claim.claimed_type,
                        filename=claim.filename, thumbnail_path=thumb_path)
        created_keys = _put_files(session, store, incoming, facts, thumb_path)
    finally:
        remove_quietly(thumb_path)
    order = lock_order(session, claim.order_id)
    existing = find_existing(session, claim, incoming.sha256)
    if existing is not None:
        return existing
    media = Media(
        id=claim.media_id, order_id=order.id, kind=claim.kind, sha256=incoming.sha256,
        size=incoming.size, content_type=facts.content_type, width=facts.width,
        height=facts.height, taken_at=claim.taken_at, location=claim.location,
        exif_taken_at=facts.exif_taken_at, exif_gps=facts.exif_gps,
        thumbnail_key=make_thumbnail_key(incoming.sha256, facts.thumbnail_extension),
        thumbnail_content_type=facts.thumbnail_content_type,
        uploaded_by_user_id=uploader.actor.user_id, uploaded_by_device_id=uploader.actor.device_id,
        version=1,
    )
    session.add(media)
    _flag_if_order_left_the_crew(session, order, media, uploader)
    order.media = [*(order.media or []), order_summary(media)]
    record_order_change(
        session, order, action="media_uploaded", source=uploader.source, actor=uploader.actor,
        media_sha256=media.sha256,
        details={"media_id": media.id, "kind": media.kind, "size": media.size,
                 "device": uploader.actor.device_id},
    )
    feed.record(session, entity_type="media", entity_id=media.id, version=media.version,
                order_id=order.id, team_id=order.team_id)
    if media.kind == "signature":
        signatures.link_if_awaited(session, order, media, actor=uploader.actor,
                                   source=uploader.source)
    session.flush()
    log.info("media %s stored (%s, %d bytes, new files: %d)", media.id, media.sha256,
             media.size, len(created_keys))
    return media


def _flag_if_order_left_the_crew(session: Session, order: Order, media: Media,
                                 uploader: Uploader) -> None:
    """A photo taken before dispatch reassigned or cancelled the order is kept, for review."""
    if uploader.actor.device_id is None:
        return
    kind = foreign_work_kind(order, uploader.team_id)
    if kind is not None:
        record_conflict(
            session, order, kind=kind, item_id=media.id, device_id=uploader.actor.device_id,
            payload={"type": "media_upload", "media_id": media.id, "kind": media.kind,
                     "sha256": media.sha256},
            details={"order_status": order.status, "order_team_id": order.team_id,
                     "device_team_id": uploader.team_id},
            now=utcnow(),
        )


def _put_files(session: Session, store: MediaStore, incoming: IncomingFile, facts: Any,
               thumb_path: Path) -> list[str]:
    """Rename content and thumbnail into place; remove them again if the transaction fails."""
    created: list[str] = []
    _on_outcome(session, on_rollback=lambda: _delete_keys(store, created))
    try:
        key = content_key(incoming.sha256)
        if store.put_file(key, incoming.path, facts.content_type):
            created.append(key)
        thumb_key = make_thumbnail_key(incoming.sha256, facts.thumbnail_extension)
        if store.put_file(thumb_key, thumb_path, facts.thumbnail_content_type):
            created.append(thumb_key)
    except (StoreError, OSError) as error:
        raise ServiceUnavailable("The media store did not accept the file; retry.",
                                 headers={"Retry-After": "5"}) from error
    return created


def _delete_keys(store: MediaStore, keys: list[str]) -> None:
    for key in keys:
        try:
            store.delete(key)
        except (StoreError, OSError):
            log.warning("could not remove %s after a rollback; sweep-media will", key,
                        exc_info=True)


_OUTCOME = "fieldsync.media_outcome"


def _on_outcome(session: Session, *, on_commit: Callable[[], object] | None = None,
                on_rollback: Callable[[], object] | None = None) -> None:
    """Run a callback once the session's current transaction commits or ends without commit.

    Callbacks wait in `session.info`; the two listeners are attached once per session.
    """
    pending = session.info.get(_OUTCOME)
    if pending is None:
        pending = session.info[_OUTCOME] = {"commit": [], "rollback": [], "committed": False}
        event.listen(session, "after_commit", _mark_committed)
        event.listen(session, "after_transaction_end", _run_outcome)
    if on_commit is not None:
        pending["commit"].append(on_commit)
    if on_rollback is not None:
        pending["rollback"].append(on_rollback)


def _mark_committed(session: Session) -> None:
    session.info[_OUTCOME]["committed"] = True


def _run_outcome(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    pending = session.info[_OUTCOME]
    callbacks = pending["commit"] if pending["committed"] else pending["rollback"]
    pending.update(commit=[], rollback=[], committed=False)
    for callback in callbacks:
        try:
            callback()
        except Exception:  # noqa: BLE001 - the sweep removes what a callback could not
            log.warning("media clean-up after the transaction failed", exc_info=True)


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run `callback` only if the current transaction commits (removing finished tus parts)."""
    _on_outcome(session, on_commit=callback)


def order_summary(media: Media) -> dict[str, Any]:
    """The entry kept in the order's denormalised `media` column."""
    return {
        "id": str(media.id),
        "kind": media.kind,
        "sha256": media.sha256,
        "content_type": media.content_type,
        "taken_at": to_rfc3339(media.taken_at),
    }
