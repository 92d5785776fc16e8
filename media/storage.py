"""Media storage backends behind one interface: the local disk (default) and an S3 bucket.

Keys are relative paths (`sha256/ab/cd/<sha256>`, `thumbnails/...`, `uploads/<id>/<offset>`).
Every backend receives finished files from a local temporary area (`temp_dir`), where uploads
are streamed, fsynced and verified before `put_file` moves them into place atomically.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

CONTENT_PREFIX = "sha256/"
THUMBNAIL_PREFIX = "thumbnails/"
UPLOAD_PREFIX = "uploads/"


class StoreError(Exception):
    """The store could not do what was asked (I/O error, bucket unreachable)."""


class KeyNotFound(StoreError):
    """No object under that key."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified_at: dt.datetime


def content_key(sha256: str) -> str:
    """Content-addressed key of an original file: identical files share one key."""
    return f"{CONTENT_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}"


def thumbnail_key(sha256: str, extension: str) -> str:
    """Thumbnails are derived from the content alone, so they are addressed by it too."""
    return f"{THUMBNAIL_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}.{extension}"


def upload_part_key(upload_id: str, offset: int) -> str:
    """One tus PATCH body, named by the offset it starts at (zero-padded so keys sort)."""
    return f"{UPLOAD_PREFIX}{upload_id}/{offset:016d}"


def upload_prefix(upload_id: str) -> str:
    return f"{UPLOAD_PREFIX}{upload_id}/"


def fsync_file(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def fsync_directory(path: Path) -> None:
    """Make a rename or unlink in `path` durable (POSIX needs the directory fsynced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MediaStore(Protocol):
    """What the upload path, the media views, the readiness check and the sweep need."""

    temp_dir: Path

    def put_file(self, key: str, path: Path, content_type: str) -> bool:
        """Move the local file at `path` under `key` durably; False if `key` already existed."""

    def open(self, key: str) -> IO[bytes]:
        """A binary stream of the object (KeyNotFound if absent)."""

    def local_path(self, key: str) -> Path | None:
        """A path on this machine's disk when the backend has one (lets views use send_file)."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> None:
        """Remove the object; removing an absent one is not an error."""

    def check(self) -> None:
        """Raise StoreError unless the store can be read and written right now."""

    def iter_objects(self, prefix: str) -> Iterator[StoredObject]: ...


def new_temp_file(store: MediaStore, suffix: str = ".part") -> tuple[IO[bytes], Path]:
    """An open temporary file in the store's temp area (same disk as the local store)."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - caller closes and removes it
        dir=store.temp_dir, prefix="incoming-", suffix=suffix, delete=False
    )
    return handle, Path(handle.name)


def remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


class LocalDiskStore:
    """Files under `root`; temp area `root/tmp` on the same filesystem so renames are atomic."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.temp_dir = self.root / "tmp"
        self.temp_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StoreError(f"key escapes the media root: {key!r}")
        return path

    def put_file(self, key: str, path: Path, content_type: str) -> bool:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        existed = target.exists()
        if existed and not key.startswith(UPLOAD_PREFIX):
            # Identical content is stored once; touching it keeps the sweep's grace period
            # from removing it while the record that now uses it is being committed.
            os.utime(target)
            remove_quietly(path)
            return False
        try:
            os.replace(path, target)
        except FileNotFoundError:
            # The sweep pruned the (empty) folder between mkdir and rename: make it again.
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        fsync_directory(target.parent)
        return not existed

    def open(self, key: str) -> IO[bytes]:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as error:
            raise KeyNotFound(key) from error

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as error:
            raise KeyNotFound(key) from error

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        fsync_directory(path.parent)
        self._prune_empty_parents(path.parent)

    def _prune_empty_parents(self, directory: Path) -> None:
        """Drop directories left empty (upload folders), never the root or its top folders."""
        while directory != self.root and directory.parent != self.root:
            try:
                directory.rmdir()
            except OSError as error:
                if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    return
                raise
            directory = directory.parent

    def check(self) -> None:
        try:
            with tempfile.NamedTemporaryFile(dir=self.temp_dir, prefix="ready-") as probe:
                probe.write(b"ok")
                fsync_file(probe)
        except OSError as error:
            raise StoreError(f"media root {self.root} is not writable") from error

    def iter_objects(self, prefix: str) -> Iterator[StoredObject]:
        base = self.root / prefix
        if not base.is_dir():
            return
        for directory, _subdirs, files in os.walk(base):
            for name in files:
                path = Path(directory) / name
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                yield StoredObject(
                    key=path.relative_to(self.root).as_posix(),
                    size=stat.st_size,
                    modified_at=dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC),
                )


class S3Store:
    """Objects in an S3-compatible bucket; uploads are staged on local disk under `temp_root`.

    Credentials and region come from the usual AWS environment variables (boto3 reads them).
    """

    def __init__(self, bucket: str, temp_root: str | Path, endpoint_url: str | None = None,
                 client: Any = None) -> None:
        import boto3

        self.bucket = bucket
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url or None)
        self.temp_dir = Path(temp_root) / "tmp"
        self.temp_dir.mkdir(parents=True, exist_ok=True)

    def _missing(self, error: Exception) -> bool:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        return code in ("404", "NoSuchKey", "NotFound")

    def put_file(self, key: str, path: Path, content_type: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        existed = self.exists(key)
        try:
            # Identical content is written again over itself (same key, same bytes): that
            # refreshes LastModified so the sweep's grace period protects it, like a touch.
            self.client.upload_file(str(path), self.bucket, key,
                                    ExtraArgs={"ContentType": content_type})
        except (BotoCoreError, ClientError) as error:
            raise StoreError(f"could not store {key}") from error
        remove_quietly(path)
        return not existed

    def open(self, key: str) -> IO[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as error:
            if self._missing(error):
                raise KeyNotFound(key) from error
            raise StoreError(f"could not read {key}") from error
        except BotoCoreError as error:
            raise StoreError(f"could not read {key}") from error

    def local_path(self, key: str) -> Path | None:
        return None

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if self._missing(error):
                return None
            raise StoreError(f"could not look up {key}") from error
        except BotoCoreError as error:
            raise StoreError(f"could not look up {key}") from error

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise KeyNotFound(key)
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as error:
            raise StoreError(f"could not delete {key}") from error

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as error:
            raise StoreError(f"bucket {self.bucket} is not reachable") from error

    def iter_objects(self, prefix: str) -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield StoredObject(key=item["Key"], size=int(item["Size"]),
                                   modified_at=item["LastModified"].astimezone(dt.UTC))


def store_from_settings(settings: Any) -> MediaStore:
    """S3 when a bucket is configured, else the local disk under the media root."""
    if settings.s3_bucket:
        return S3Store(settings.s3_bucket, settings.media_root, settings.s3_endpoint_url or None)
    return LocalDiskStore(settings.media_root)


def copy_stream(source: IO[bytes], target: IO[bytes]) -> int:
    """Copy in bounded chunks; returns the byte count."""
    copied = 0
    while chunk := source.read(1024 * 1024):
        target.write(chunk)
        copied += len(chunk)
    return copied


__all__ = [
    "CONTENT_PREFIX", "KeyNotFound", "LocalDiskStore", "MediaStore", "S3Store", "StoreError",
    "StoredObject", "THUMBNAIL_PREFIX", "UPLOAD_PREFIX", "content_key", "copy_stream",
    "fsync_directory", "fsync_file", "new_temp_file", "remove_quietly", "store_from_settings",
    "thumbnail_key", "upload_part_key", "upload_prefix",
]
