"""The media sweep: expired tus uploads, orphaned files and stale temp files are removed.

An orphan is a content file or thumbnail that no media record references, left by a crash
between the rename into the store and the commit. Only files older than the grace period are
touched, so an upload whose record is still being committed is never swept from under it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from media.storage import (
    CONTENT_PREFIX,
    THUMBNAIL_PREFIX,
    UPLOAD_PREFIX,
    MediaStore,
    remove_quietly,
)
from media.tus import delete_parts
from server.models.media import Media, Upload

log = logging.getLogger(__name__)

DEFAULT_GRACE = dt.timedelta(hours=1)
_LOOKUP_BATCH = 500


@dataclass
class SweepReport:
    expired_uploads: int = 0
    upload_parts: int = 0
    orphan_files: int = 0
    temp_files: int = 0


def sweep(session: Session, store: MediaStore, *, now: dt.datetime,
          grace: dt.timedelta = DEFAULT_GRACE) -> SweepReport:
    """Remove what no record needs any more; the caller commits the session."""
    report = SweepReport()
    cutoff = now - grace
    for upload in session.scalars(select(Upload).where(Upload.expires_at <= now)).all():
        report.upload_parts += delete_parts(store, str(upload.id))
        session.delete(upload)
        report.expired_uploads += 1
    session.flush()
    report.upload_parts += _sweep_stray_parts(session, store, cutoff)
    report.orphan_files += _sweep_orphans(session, store, cutoff)
    report.temp_files += _sweep_temp(store.temp_dir, cutoff)
    log.info("media sweep: %s", report)
    return report


def _sweep_stray_parts(session: Session, store: MediaStore, cutoff: dt.datetime) -> int:
    """Parts of uploads that finished, were terminated, or whose row never committed."""
    live = {str(upload_id) for upload_id in session.scalars(
        select(Upload.id).where(Upload.completed_at.is_(None)))}
    removed = 0
    for stored in list(store.iter_objects(UPLOAD_PREFIX)):
        upload_id = stored.key[len(UPLOAD_PREFIX):].split("/", 1)[0]
        if upload_id not in live and stored.modified_at < cutoff:
            store.delete(stored.key)
            removed += 1
    return removed


def _sha_of(key: str) -> str:
    return key.rsplit("/", 1)[-1].split(".", 1)[0]


def _sweep_orphans(session: Session, store: MediaStore, cutoff: dt.datetime) -> int:
    candidates = [
        stored.key
        for prefix in (CONTENT_PREFIX, THUMBNAIL_PREFIX)
        for stored in store.iter_objects(prefix)
        if stored.modified_at < cutoff
    ]
    removed = 0
    for start in range(0, len(candidates), _LOOKUP_BATCH):
        batch = candidates[start:start + _LOOKUP_BATCH]
        referenced = set(session.scalars(
            select(Media.sha256).where(Media.sha256.in_({_sha_of(key) for key in batch}))
        ))
        for key in batch:
            if _sha_of(key) not in referenced:
                store.delete(key)
                removed += 1
    return removed


def _sweep_temp(temp_dir: Path, cutoff: dt.datetime) -> int:
    """Temp files of requests that died mid-stream (a live request's file is always young)."""
    removed = 0
    for entry in os.scandir(temp_dir):
        if not entry.is_file():
            continue
        modified = dt.datetime.fromtimestamp(entry.stat().st_mtime, dt.UTC)
        if modified < cutoff:
            remove_quietly(Path(entry.path))
            removed += 1
    return removed
