"""A worker verifies a token's signature once; everything else is checked on every request."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import update

from server.auth import tokens
from server.auth.principal import VERIFIED_TOKENS
from server.db import db
from server.errors import Unauthorized
from server.models import DeviceToken

KEYS = tokens.KeyRing(current="k" * 32, issuer="fieldsync")


def _issued(typ: str = "device", ttl_seconds: int = 60, **extra) -> tokens.IssuedToken:
    claims = {"did": str(uuid.uuid4())} if typ == "device" else {}
    return tokens.issue(KEYS, typ=typ, subject=uuid.uuid4(), ttl_seconds=ttl_seconds,
                        extra={**claims, **extra})


def test_a_remembered_token_decodes_exactly_as_a_fresh_one():
    verified = tokens.VerifiedTokens(KEYS)
    token = _issued().token

    first = verified.decode(token, expected_typ="device")
    again = verified.decode(token, expected_typ="device")

    assert first == again == tokens.decode(KEYS, token, expected_typ="device")
    assert isinstance(again["sub"], uuid.UUID) and isinstance(again["did"], uuid.UUID)
    assert again is not first  # callers get their own copy


def test_a_remembered_token_still_expires(monkeypatch):
    verified = tokens.VerifiedTokens(KEYS)
    issued = _issued(ttl_seconds=60)
    verified.decode(issued.token, expected_typ="device")

    monkeypatch.setattr(tokens.time, "time", lambda: issued.expires_at.timestamp())
    with pytest.raises(Unauthorized) as refused:
        verified.decode(issued.token, expected_typ="device")
    assert refused.value.code == "token_expired"


def test_a_remembered_token_is_refused_before_its_not_before_time(monkeypatch):
    verified = tokens.VerifiedTokens(KEYS)
    nbf = int(dt.datetime.now(dt.UTC).timestamp())
    token = tokens.issue(KEYS, typ="access", subject=uuid.uuid4(), ttl_seconds=60,
                         extra={"nbf": nbf}).token
    verified.decode(token, expected_typ="access")

    monkeypatch.setattr(tokens.time, "time", lambda: nbf - 1)
    with pytest.raises(Unauthorized) as refused:
        verified.decode(token, expected_typ="access")
    assert refused.value.code == "token_invalid"


def test_a_remembered_token_of_the_wrong_type_is_refused_as_before():
    verified = tokens.VerifiedTokens(KEYS)
    token = _issued("device").token
    verified.decode(token, expected_typ="device")

    with pytest.raises(Unauthorized) as refused:
        verified.decode(token, expected_typ="access")
    assert refused.value.detail == "A access token is required for this endpoint."
    assert verified.typ_of(token) == "device"


def test_refused_tokens_are_not_remembered_and_the_oldest_token_makes_room():
    verified = tokens.VerifiedTokens(KEYS, capacity=2)
    forged = tokens.issue(tokens.KeyRing(current="x" * 32), typ="device", subject=uuid.uuid4(),
                          ttl_seconds=60).token
    with pytest.raises(Unauthorized):
        verified.decode(forged, expected_typ="device")
    assert verified.typ_of(forged) is None

    first, second, third = (_issued().token for _ in range(3))
    for token in (first, second, third):
        verified.decode(token, expected_typ="device")
    assert verified.typ_of(first) is None
    assert verified.typ_of(second) == verified.typ_of(third) == "device"


def test_the_cache_lives_on_the_app_and_follows_its_keys(app, client, factory):
    _, token = factory.device()
    assert client.get("/api/v1/sync/pull", headers=factory.headers(token)).status_code == 200
    cache = app.extensions[VERIFIED_TOKENS]
    assert cache.typ_of(token) == "device"
    assert cache.keys.current == app.config["SETTINGS"].secret_key


def test_a_remembered_device_token_is_refused_once_revoked(app, client, factory):
    device, token = factory.device()
    headers = factory.headers(token)
    assert client.get("/api/v1/sync/pull", headers=headers).status_code == 200

    with app.app_context(), db.transaction() as session:
        session.execute(update(DeviceToken).where(DeviceToken.device_id == device.id)
                        .values(revoked_at=dt.datetime.now(dt.UTC)))

    refused = client.get("/api/v1/sync/pull", headers=headers)
    assert refused.status_code == 401
    assert refused.get_json()["code"] == "token_revoked"
