"""Factories that build people, devices and orders straight through the domain layer."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from flask import Flask

from server.auth import tokens
from server.auth.passwords import hash_password
from server.db import db
from server.domain.assignment import assign_order
from server.domain.audit import SYSTEM, Actor
from server.domain.devices import issue_device_token
from server.domain.history import lock_order
from server.domain.orders import create_order
from server.models import Device, Order, Team, User

DEFAULT_PASSWORD = "correct horse battery"


class Factory:
    """Each method commits what it builds and returns it detached (attributes loaded)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.settings = app.config["SETTINGS"]
        self._serial = itertools.count(1)

    def _next(self) -> int:
        return next(self._serial)

    def keys(self) -> tokens.KeyRing:
        return tokens.KeyRing(
            current=self.settings.secret_key,
            previous=tuple(self.settings.old_secret_keys),
            issuer=self.settings.token_issuer,
        )

    def team(self, *, name: str | None = None, lat: float = 28.68, lon: float = 115.86,
             skills: list[str] | None = None) -> Team:
        with self.app.app_context(), db.transaction() as session:
            team = Team(
                name=name or f"Crew {self._next()}", base_lat=lat, base_lon=lon,
                skills=skills if skills is not None else ["electrical"],
            )
            session.add(team)
        return team

    def user(self, role: str = "dispatcher", *, team: Team | None = None,
             username: str | None = None, password: str = DEFAULT_PASSWORD,
             active: bool = True) -> User:
        if role == "crew" and team is None:
            team = self.team()
        with self.app.app_context(), db.transaction() as session:
            user = User(
                username=username or f"{role}{self._next()}",
                password_hash=hash_password(password, self.settings.password_hash_method),
                role=role, display_name=f"{role.title()} {self._serial}",
                team_id=team.id if team else None, active=active,
            )
            session.add(user)
        return user

    def access_token(self, user: User) -> str:
        return tokens.issue(self.keys(), typ="access", subject=user.id,
                            ttl_seconds=self.settings.access_token_ttl).token

    def staff_headers(self, role: str = "dispatcher") -> dict[str, str]:
        return self.headers(self.access_token(self.user(role)))

    @staticmethod
    def headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def device(self, user: User | None = None, *, team: Team | None = None) -> tuple[Device, str]:
        """A registered, enrolled device of a crew member and a valid device token for it."""
        user = user or self.user("crew", team=team)
        with self.app.app_context(), db.transaction() as session:
            device = Device(name=f"Tablet {self._next()}", platform="android", user_id=user.id)
            session.add(device)
            session.flush()
            issued = issue_device_token(session, self.settings, device)
        return device, issued.token

    def order(self, *, team: Team | None = None, user_ids: list[uuid.UUID] | None = None,
              actor: Actor = SYSTEM, **fields: Any) -> Order:
        """An order, assigned to `team` when one is given."""
        defaults = {
            "source": "hotline", "kind": "fault_repair", "priority": "normal",
            "title": f"Fault {self._next()}", "description": "No power in the building",
            "customer_name": "Li Wei", "customer_phone": "+86 791 555 0100",
            "customer_account": "ACC-1", "address": "1 Bayi Avenue", "lat": 28.68, "lon": 115.86,
        }
        with self.app.app_context(), db.transaction() as session:
            order = create_order(session, self.settings, actor, {**defaults, **fields})
            if team is not None:
                order = lock_order(session, order.id)
                assign_order(session, order, team_id=team.id, user_ids=user_ids, actor=actor,
                             source="system")
        return order
