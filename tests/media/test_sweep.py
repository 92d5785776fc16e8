"""The sweep removes orphans (a crash between the rename and the commit), expired uploads and
stale temp files, only past the grace period, and never a file a record references."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from media.storage import (
    LocalDiskStore,
    S3Store,
    content_key,
    new_temp_file,
    thumbnail_key,
    upload_part_key,
)
from media.sweep import sweep
from server.db import db
from server.models.base import utcnow
from tests.media.conftest import post_media
from tests.media.imaging import picture, sha256

GRACE = dt.timedelta(hours=1)


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalDiskStore(tmp_path / "media")
    return S3Store(request.getfixturevalue("s3_bucket"), tmp_path / "staging",
                   endpoint_url=request.getfixturevalue("s3_endpoint"))


def put(store, key: str, data: bytes) -> None:
    handle, path = new_temp_file(store)
    with handle:
        handle.write(data)
    store.put_file(key, path, "application/octet-stream")


def run_sweep(app, store, now: dt.datetime):
    with app.app_context(), db.transaction() as session:
        return sweep(session, store, now=now, grace=GRACE)


def test_an_orphan_left_between_rename_and_commit_is_removed_after_the_grace(app, store):
    orphan = "f" * 64
    put(store, content_key(orphan), b"bytes whose record never committed")
    put(store, thumbnail_key(orphan, "jpg"), b"its thumbnail")

    young = run_sweep(app, store, now=utcnow())
    assert young.orphan_files == 0
    assert store.exists(content_key(orphan))

    old = run_sweep(app, store, now=utcnow() + 2 * GRACE)
    assert old.orphan_files == 2
    assert not store.exists(content_key(orphan))
    assert not store.exists(thumbnail_key(orphan, "jpg"))


def test_parts_without_a_live_upload_are_removed_after_the_grace(app, store):
    put(store, upload_part_key("9b0c1f0e-0000-4000-8000-000000000000", 0), b"stray part")

    report = run_sweep(app, store, now=utcnow() + 2 * GRACE)

    assert report.upload_parts == 1
    assert list(store.iter_objects("uploads/")) == []


def test_files_a_record_references_are_kept(client, crew, app):
    store = app.extensions["fieldsync_media_store"]
    data = picture(size=(333, 222))
    body = post_media(client, crew.headers, crew.order.id, data).json

    run_sweep(app, store, now=utcnow() + 2 * GRACE)

    assert store.exists(content_key(sha256(data)))
    assert client.get(body["thumbnail_url"], headers=crew.headers).status_code == 200


def test_stale_temp_files_are_removed_and_fresh_ones_kept(app, tmp_path):
    store = LocalDiskStore(tmp_path / "media")
    stale_handle, stale = new_temp_file(store)
    fresh_handle, fresh = new_temp_file(store)
    stale_handle.close()
    fresh_handle.close()
    two_hours_ago = time.time() - 2 * 3600
    os.utime(stale, (two_hours_ago, two_hours_ago))

    report = run_sweep(app, store, now=utcnow())

    assert report.temp_files == 1
    assert not stale.exists()
    assert fresh.exists()


def test_the_sweep_command_reports_what_it_removed(app):
    store = app.extensions["fieldsync_media_store"]
    run_sweep(app, store, now=utcnow() + 2 * GRACE)  # earlier tests' files are orphans now
    put(store, content_key("e" * 64), b"orphan")

    result = app.test_cli_runner().invoke(args=["sweep-media", "--grace-minutes", "0"])

    assert result.exit_code == 0, result.output
    assert "orphan files: 1" in result.output
    assert not store.exists(content_key("e" * 64))
