"""Seeding the workload through the domain layer, so the data is exactly what the app produces.

Orders are created with `create_order` and assigned with `assign_order` (numbers, audit chains
and change-feed entries included), one transaction per crew, which keeps seeding fast.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
import uuid
from dataclasses import dataclass

import orjson
from flask import Flask
from sqlalchemy import select

from schemas.orders import crew_view
from server.auth import tokens
from server.auth.passwords import hash_password
from server.db import db
from server.domain.assignment import assign_order
from server.domain.audit import SYSTEM
from server.domain.history import lock_order
from server.domain.orders import create_order
from server.models import Device, DeviceToken, Order, Team, User
from server.models.base import utcnow

PRIORITIES = ("urgent",) + ("high",) * 2 + ("normal",) * 5 + ("low",) * 2
WORDS = (
    "feeder breaker transformer cable meter outage substation voltage fuse pole insulator "
    "relay switchgear earth fault trip phase neutral joint overhead underground lamp"
).split()


@dataclass(frozen=True)
class SeededDevice:
    device_id: str
    user_id: str
    team_id: str
    token: str


@dataclass(frozen=True)
class Fleet:
    devices: list[SeededDevice]
    orders: int
    order_json_bytes: int
    seconds: float


def _text(rng: random.Random, length: int) -> str:
    words: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:length]


def _order_fields(rng: random.Random, index: int, team: Team, description: str) -> dict:
    now = utcnow()
    return {
        "source": ("hotline", "patrol", "monitoring", "portal")[index % 4],
        "kind": ("fault_repair", "maintenance", "installation", "inspection")[index % 4],
        "priority": PRIORITIES[index % len(PRIORITIES)],
        "title": f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} at site {index}",
        "description": description,
        "customer_name": f"Customer {index}",
        "customer_phone": f"+86 791 555 {index % 10000:04d}",
        "customer_account": f"ACC-{index:06d}",
        "address": f"{index % 900 + 1} Bayi Avenue, Nanchang",
        "lat": team.base_lat + rng.uniform(-0.05, 0.05),
        "lon": team.base_lon + rng.uniform(-0.05, 0.05),
        "asset_ref": f"TX-{index:05d}",
        "required_skills": ["electrical"],
        "sla_arrive_by": now + dt.timedelta(minutes=rng.randint(30, 600)),
        "sla_complete_by": now + dt.timedelta(minutes=rng.randint(600, 2400)),
    }


def _description_length(target_bytes: int, sample_fields: dict, team: Team, user: User) -> int:
    """How long the description must be for the crew's JSON of an order to weigh `target_bytes`."""
    now = utcnow()
    fields = {k: v for k, v in sample_fields.items() if k != "description"}
    probe = Order(
        id=uuid.uuid4(), number="WO-2026-000001", status="assigned", team_id=team.id,
        user_ids=[str(user.id)], version=2, created_at=now, updated_at=now, notes=[], media=[],
        needs_review=False, reopen_count=0, description="", **fields,
    )
    return max(0, target_bytes - len(orjson.dumps(crew_view(probe))))


def seed(app: Flask, *, crews: int, orders_per_crew: int, extra_devices: int,
         order_bytes: int = 1536) -> Fleet:
    """100 crews of one member and one tablet each, their orders, plus spare tablets for big fleets.

    Extra tablets belong to the crew members of the first teams (a second tablet per member), so
    a 128-device fleet can be driven with 100 crews.
    """
    started = time.perf_counter()
    settings = app.config["SETTINGS"]
    rng = random.Random(20261121)
    keys = tokens.KeyRing(current=settings.secret_key, previous=(), issuer=settings.token_issuer)
    password_hash = hash_password("bench-password", "pbkdf2:sha256:1000")
    with app.app_context():
        with db.transaction() as session:
            teams = [Team(name=f"Bench crew {i:03d}", base_lat=28.6 + i * 0.001,
                          base_lon=115.8 + i * 0.001, skills=["electrical"]) for i in range(crews)]
            session.add_all(teams)
            session.flush()
            users = [User(username=f"bench-crew-{i:03d}", password_hash=password_hash, role="crew",
                          display_name=f"Crew member {i}", team_id=team.id)
                     for i, team in enumerate(teams)]
            session.add_all(users)
            session.flush()
            owners = list(itertools.islice(itertools.cycle(range(crews)), crews + extra_devices))
            devices = [Device(name=f"Bench tablet {n}", platform="android",
                              user_id=users[i].id, enrolled_at=utcnow())
                       for n, i in enumerate(owners)]
            session.add_all(devices)
            session.flush()
            seeded = []
            for device, i in zip(devices, owners, strict=True):
                issued = tokens.issue(keys, typ="device", subject=users[i].id,
                                      ttl_seconds=settings.device_token_ttl,
                                      extra={"did": str(device.id)})
                session.add(DeviceToken(jti=issued.jti, device_id=device.id,
                                        issued_at=issued.issued_at, expires_at=issued.expires_at))
                seeded.append(SeededDevice(str(device.id), str(users[i].id), str(teams[i].id),
                                           issued.token))
        probe_fields = _order_fields(rng, 0, teams[0], "")
        pad = _description_length(order_bytes, probe_fields, teams[0], users[0])
        serial = itertools.count(1)
        for team, user in zip(teams, users, strict=True):
            with db.transaction() as session:
                for _ in range(orders_per_crew):
                    index = next(serial)
                    fields = _order_fields(rng, index, team, _text(rng, pad))
                    order = create_order(session, settings, SYSTEM, fields)
                    order = lock_order(session, order.id)
                    assign_order(session, order, team_id=team.id, user_ids=[user.id],
                                 actor=SYSTEM, source="system")
        with db.transaction() as session:
            sample = session.scalars(
                select(Order).where(Order.team_id == teams[0].id).limit(1)
            ).one()
            sample_bytes = len(orjson.dumps(crew_view(sample)))
    return Fleet(devices=seeded, orders=crews * orders_per_crew, order_json_bytes=sample_bytes,
                 seconds=time.perf_counter() - started)
