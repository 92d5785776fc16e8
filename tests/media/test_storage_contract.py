"""The storage contract, written once and run against the local disk and a real S3 server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from media.storage import (
    KeyNotFound,
    LocalDiskStore,
    MediaStore,
    S3Store,
    StoreError,
    content_key,
    new_temp_file,
    upload_part_key,
)


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> MediaStore:
    if request.param == "local":
        return LocalDiskStore(tmp_path / "media")
    bucket = request.getfixturevalue("s3_bucket")
    endpoint = request.getfixturevalue("s3_endpoint")
    return S3Store(bucket, tmp_path / "staging", endpoint_url=endpoint)


def staged(store: MediaStore, data: bytes) -> Path:
    handle, path = new_temp_file(store)
    with handle:
        handle.write(data)
    return path


KEY = content_key("ab" * 32)


def test_a_stored_file_can_be_read_back_and_its_temp_file_is_gone(store):
    temp = staged(store, b"hello media")

    assert store.put_file(KEY, temp, "image/jpeg") is True

    assert not temp.exists()
    assert store.exists(KEY)
    assert store.size(KEY) == len(b"hello media")
    with store.open(KEY) as stream:
        assert stream.read() == b"hello media"


def test_storing_identical_content_again_keeps_one_copy_and_reports_it_existed(store):
    store.put_file(KEY, staged(store, b"same bytes"), "image/jpeg")
    again = staged(store, b"same bytes")

    assert store.put_file(KEY, again, "image/jpeg") is False

    assert not again.exists()
    assert [obj.key for obj in store.iter_objects("sha256/")] == [KEY]


def test_upload_parts_are_replaced_when_written_again(store):
    key = upload_part_key("u1", 0)
    store.put_file(key, staged(store, b"first try"), "application/octet-stream")
    store.put_file(key, staged(store, b"retry"), "application/octet-stream")

    with store.open(key) as stream:
        assert stream.read() == b"retry"


def test_deleting_removes_the_object_and_deleting_again_is_harmless(store):
    store.put_file(KEY, staged(store, b"x"), "image/png")

    store.delete(KEY)
    store.delete(KEY)

    assert not store.exists(KEY)
    with pytest.raises(KeyNotFound):
        store.open(KEY)
    with pytest.raises(KeyNotFound):
        store.size(KEY)


def test_objects_are_listed_by_prefix_with_their_size_and_age(store):
    store.put_file(upload_part_key("u1", 0), staged(store, b"12345"), "application/octet-stream")
    store.put_file(upload_part_key("u1", 5), staged(store, b"678"), "application/octet-stream")
    store.put_file(KEY, staged(store, b"content"), "image/jpeg")

    listed = sorted(store.iter_objects("uploads/u1/"), key=lambda obj: obj.key)

    assert [(obj.key, obj.size) for obj in listed] == [
        (upload_part_key("u1", 0), 5), (upload_part_key("u1", 5), 3)]
    now = dt.datetime.now(dt.UTC)
    assert all(now - dt.timedelta(minutes=5) < obj.modified_at <= now + dt.timedelta(minutes=1)
               for obj in listed)
    assert list(store.iter_objects("thumbnails/")) == []


def test_a_reachable_store_passes_the_readiness_check(store):
    store.check()


def test_a_missing_bucket_fails_the_readiness_check(s3_endpoint, s3_bucket, tmp_path):
    missing = S3Store(s3_bucket + "-absent", tmp_path, endpoint_url=s3_endpoint)

    with pytest.raises(StoreError):
        missing.check()


def test_the_local_store_refuses_keys_outside_its_root(tmp_path):
    store = LocalDiskStore(tmp_path / "media")

    with pytest.raises(StoreError):
        store.exists("../outside")
