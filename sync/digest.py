"""The scope digest of PROTOCOL.md section 4.

Hex (32 digits) of the XOR of the first 16 bytes of sha256("{type}:{id}:{version}") over every
entity in a device's scope: each order in scope (`order:<uuid>:<version>`), each media entity
of those orders (`media:<uuid>:<version>`) and each reference list (`reference:<id>:<version>`).
XOR makes it independent of order and lets a client update it one entity at a time.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterable

DIGEST_BYTES = 16


@functools.lru_cache(maxsize=32768)
def fingerprint(entity_type: str, entity_id: str | uuid.UUID, version: int) -> int:
    """Remembered per process: a device's digest is recomputed on every pull that changes
    it, from the same entities at mostly the same versions."""
    return _hash(f"{entity_type}:{entity_id}:{version}")


@functools.lru_cache(maxsize=32768)
def fingerprint_text(entity: str) -> int:
    """`fingerprint` of an entity given as its text `{type}:{id}:{version}`."""
    return _hash(entity)


def _hash(entity: str) -> int:
    return int.from_bytes(hashlib.sha256(entity.encode()).digest()[:DIGEST_BYTES], "big")


def scope_digest(entities: Iterable[tuple[str, str | uuid.UUID, int]], start: int = 0) -> str:
    """The digest of `(type, id, version)` triples; 32 zeros for an empty scope.

    `start`: the XOR of the fingerprints of further entities, computed elsewhere (by
    PostgreSQL: `sync.digest_query`)."""
    value = start
    for entity_type, entity_id, version in entities:
        value ^= fingerprint(entity_type, entity_id, version)
    return value.to_bytes(DIGEST_BYTES, "big").hex()
