"""Seed a simulation through the domain layer: teams, crews with tablets, staff, orders."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from server import create_app
from server.auth import tokens
from server.auth.passwords import hash_password
from server.db import db
from server.domain.assignment import assign_order
from server.domain.audit import SYSTEM
from server.domain.history import lock_order
from server.domain.orders import create_order
from server.models import Device, DeviceToken, Team, User

CAUSES = ("cable_fault", "blown_fuse", "transformer", "meter_fault", "vegetation")


@dataclass
class CrewMember:
    user_id: str
    team_id: str
    device_id: str
    token: str


@dataclass
class World:
    team_ids: list[str]
    crews: list[CrewMember]
    order_ids: list[str]
    staff_tokens: dict[str, str] = field(default_factory=dict)


def _keys(settings) -> tokens.KeyRing:
    return tokens.KeyRing(current=settings.secret_key, previous=tuple(settings.old_secret_keys),
                          issuer=settings.token_issuer)


def seed_world(settings_overrides: dict, *, crews: int, team_size: int = 3,
               orders_per_team: int = 4, seed: int = 1) -> World:
    rng = random.Random(seed)
    app = create_app(settings_overrides)
    settings = app.config["SETTINGS"]
    keys = _keys(settings)
    password = hash_password("simulated crew", settings.password_hash_method)
    team_count = max(1, -(-crews // team_size))
    world = World(team_ids=[], crews=[], order_ids=[])
    with app.app_context():
        with db.transaction() as session:
            teams = []
            for t in range(team_count):
                team = Team(name=f"Sim crew {t + 1}", base_lat=28.6 + rng.uniform(-0.1, 0.1),
                            base_lon=115.8 + rng.uniform(-0.1, 0.1), skills=["electrical"])
                session.add(team)
                teams.append(team)
            session.flush()
            world.team_ids = [str(team.id) for team in teams]
            for c in range(crews):
                team = teams[c % team_count]
                user = User(username=f"sim-crew-{c + 1}", password_hash=password, role="crew",
                            display_name=f"Crew member {c + 1}", team_id=team.id)
                session.add(user)
                session.flush()
                device = Device(name=f"Sim tablet {c + 1}", platform="android", user_id=user.id)
                session.add(device)
                session.flush()
                issued = tokens.issue(keys, typ="device", subject=user.id,
                                      ttl_seconds=settings.device_token_ttl,
                                      extra={"did": str(device.id)})
                session.add(DeviceToken(jti=issued.jti, device_id=device.id,
                                        issued_at=issued.issued_at, expires_at=issued.expires_at))
                world.crews.append(CrewMember(str(user.id), str(team.id), str(device.id),
                                              issued.token))
            for role in ("admin", "dispatcher", "agent"):
                staff = User(username=f"sim-{role}", password_hash=password, role=role,
                             display_name=f"Simulated {role}")
                session.add(staff)
                session.flush()
                world.staff_tokens[role] = tokens.issue(
                    keys, typ="access", subject=staff.id, ttl_seconds=24 * 3600).token
        for team in teams:
            for n in range(orders_per_team):
                with db.transaction() as session:
                    order = create_order(session, settings, SYSTEM, {
                        "source": rng.choice(["hotline", "patrol", "monitoring", "portal"]),
                        "kind": "fault_repair",
                        "priority": rng.choice(["urgent", "high", "normal", "normal", "low"]),
                        "title": f"Outage {team.name} #{n + 1}",
                        "description": "Simulated fault", "customer_name": "Sim Customer",
                        "customer_phone": "+86 791 555 0100", "customer_account": "SIM-1",
                        "address": f"{n + 1} Simulation Road",
                        "lat": team.base_lat + rng.uniform(-0.05, 0.05),
                        "lon": team.base_lon + rng.uniform(-0.05, 0.05)})
                    order = lock_order(session, order.id)
                    assign_order(session, order, team_id=team.id, user_ids=None, actor=SYSTEM,
                                 source="system")
                    world.order_ids.append(str(order.id))
        db.engine.dispose()
    return world


def new_order_body(team_id: str, serial: int) -> dict:
    """A staff `POST /orders` body for an order dispatchers create during the run."""
    return {"source": "hotline", "kind": "fault_repair", "priority": "high",
            "title": f"New outage {serial}", "description": "Reported during the simulation",
            "customer": {"name": "Caller", "phone": "+86 791 555 0199", "account": "SIM-2"},
            "address": f"{serial} Late Street", "location": {"lat": 28.65, "lon": 115.85},
            "assignment": {"team_id": team_id, "user_ids": []}}


def idempotency_key() -> str:
    return str(uuid.uuid4())
