"""The scope digest of PROTOCOL.md section 4, computed over what a device holds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

DIGEST_BYTES = 16


def entity_fingerprint(entity_type: str, entity_id: str, version: int) -> int:
    raw = hashlib.sha256(f"{entity_type}:{entity_id}:{version}".encode()).digest()
    return int.from_bytes(raw[:DIGEST_BYTES], "big")


def scope_digest(entities: Iterable[tuple[str, str, int]]) -> str:
    """Hex of the XOR of the first 16 bytes of sha256("{type}:{id}:{version}") over the entities."""
    value = 0
    for entity_type, entity_id, version in entities:
        value ^= entity_fingerprint(entity_type, entity_id, version)
    return value.to_bytes(DIGEST_BYTES, "big").hex()
