"""Streaming a file into the store's temp area: hashed and size-bounded as it arrives, fsynced.

Nothing is ever held in memory whole; the temp file is removed on any failure, so a refused
or interrupted upload leaves no file behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from media.storage import MediaStore, fsync_file, new_temp_file, remove_quietly
from server.errors import PayloadTooLarge

CHUNK_SIZE = 256 * 1024


@dataclass(frozen=True)
class IncomingFile:
    """A complete file on local disk in the temp area, with what we computed while writing it."""

    path: Path
    size: int
    sha256: str

    def discard(self) -> None:
        remove_quietly(self.path)


class FileSink:
    """Write chunks to a temp file, refusing more than `limit` bytes (413 payload_too_large)."""

    def __init__(self, store: MediaStore, limit: int, extra_digest: str | None = None) -> None:
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        #: A second digest for tus's Upload-Checksum (sha1 or sha256 of this chunk).
        self._extra = hashlib.new(extra_digest) if extra_digest else None
        self._handle: IO[bytes]
        self._handle, self.path = new_temp_file(store)

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise PayloadTooLarge(f"The file is larger than {self.limit} bytes.")
        self._hash.update(data)
        if self._extra is not None:
            self._extra.update(data)
        self._handle.write(data)

    @property
    def extra_digest(self) -> bytes:
        assert self._extra is not None
        return self._extra.digest()

    def finish(self) -> IncomingFile:
        """fsync and close; the file is now durable under its temp name."""
        fsync_file(self._handle)
        self._handle.close()
        return IncomingFile(path=self.path, size=self.size, sha256=self._hash.hexdigest())

    def abort(self) -> None:
        self._handle.close()
        remove_quietly(self.path)

    def __enter__(self) -> FileSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def receive(store: MediaStore, read: Callable[[int], bytes], limit: int,
            extra_digest: str | None = None) -> tuple[IncomingFile, bytes | None]:
    """Copy a whole stream into the temp area; returns the file and the extra digest if asked."""
    with FileSink(store, limit, extra_digest) as sink:
        while chunk := read(CHUNK_SIZE):
            sink.write(chunk)
        extra = sink.extra_digest if extra_digest else None
        return sink.finish(), extra
