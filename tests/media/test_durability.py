"""Crash-safety: a failure anywhere between the write and the commit leaves no record and no
file; an orphan left by a crash between the rename and the commit is removed by the sweep."""

from __future__ import annotations

import pytest
import sqlalchemy.orm
from sqlalchemy import func, select

import media.uploads
from media.storage import content_key
from server.db import db
from server.models.media import Media
from tests.media.conftest import post_media
from tests.media.imaging import picture, sha256


def media_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Media))


def stored_keys(app, data: bytes) -> list[str]:
    store = app.extensions["fieldsync_media_store"]
    digest = sha256(data)
    return [obj.key for prefix in ("sha256/", "thumbnails/")
            for obj in store.iter_objects(prefix) if digest in obj.key]


def temp_files(app) -> set[str]:
    return {path.name for path in app.extensions["fieldsync_media_store"].temp_dir.iterdir()}


def test_a_failure_after_the_files_are_stored_removes_them(client, crew, app, monkeypatch):
    def broken_audit(*args, **kwargs):
        raise RuntimeError("simulated failure while recording the upload")

    monkeypatch.setattr(media.uploads, "record_order_change", broken_audit)
    data = picture(size=(500, 400))
    temp_before = temp_files(app)

    response = post_media(client, crew.headers, crew.order.id, data)

    assert response.status_code == 500
    assert response.json["code"] == "internal_error"
    assert media_count(app) == 0
    assert stored_keys(app, data) == []
    assert temp_files(app) == temp_before


def test_a_commit_that_fails_removes_the_files(client, crew, app, monkeypatch):
    def broken_commit(self):
        raise RuntimeError("simulated crash of the commit")

    monkeypatch.setattr(sqlalchemy.orm.Session, "commit", broken_commit)
    data = picture(size=(500, 401))

    with pytest.raises(RuntimeError, match="simulated crash"):
        post_media(client, crew.headers, crew.order.id, data)

    monkeypatch.undo()
    assert media_count(app) == 0
    assert stored_keys(app, data) == []


def test_a_failed_upload_does_not_remove_a_file_another_record_uses(client, crew, app,
                                                                   monkeypatch):
    data = picture(size=(500, 402))
    assert post_media(client, crew.headers, crew.order.id, data).status_code == 201

    def broken_audit(*args, **kwargs):
        raise RuntimeError("simulated failure while recording the upload")

    monkeypatch.setattr(media.uploads, "record_order_change", broken_audit)
    response = post_media(client, crew.headers, crew.order.id, data)

    assert response.status_code == 500
    assert media_count(app) == 1
    assert content_key(sha256(data)) in stored_keys(app, data)
