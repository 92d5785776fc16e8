"""The scope digest exactly as PROTOCOL.md section 4 defines it."""

from __future__ import annotations

import hashlib

from clients.python.digest import scope_digest


def test_an_empty_scope_has_the_all_zero_digest():
    assert scope_digest([]) == "0" * 32


def test_one_entity_gives_the_first_sixteen_bytes_of_its_sha256():
    expected = hashlib.sha256(b"order:abc:7").digest()[:16].hex()
    assert scope_digest([("order", "abc", 7)]) == expected


def test_the_digest_is_an_xor_so_order_does_not_matter_and_versions_do():
    entities = [("order", "a", 1), ("media", "m", 1), ("reference", "cause_codes", 3)]
    assert scope_digest(entities) == scope_digest(list(reversed(entities)))
    assert scope_digest(entities) != scope_digest([("order", "a", 2), *entities[1:]])
    a = int(scope_digest(entities[:1]), 16) ^ int(scope_digest(entities[1:]), 16)
    assert f"{a:032x}" == scope_digest(entities)
