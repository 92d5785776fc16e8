"""Ranking teams for an order: distance from the team's freshest position, skills and open load.

Each team's score is the weighted sum of three components in [0, 1], all returned with the
figures behind them so a dispatcher sees why a team ranks where it does:

- distance: `scale / (scale + km)` (1 on the spot, 0.5 at `suggestion_distance_scale_km`), from
  the newest `report_location` of the team's members' unrevoked devices within
  `position_fresh_minutes`, otherwise from the team's base; 0 when the order has no location;
- skills: the share of the order's `required_skills` the team has (1 when none are required);
- load: `1 / (1 + open orders)`, open meaning assigned, en_route or on_site.

Four queries whatever the number of teams: the order, the active teams, fresh positions and
open load.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.config import Settings
from server.models.orders import Order
from server.models.people import Device, Team, User

EARTH_RADIUS_KM = 6371.0
OPEN_STATUSES = ("assigned", "en_route", "on_site")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a sphere of radius 6371 km."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Weights:
    distance: float
    skills: float
    load: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Weights:
        return cls(
            distance=settings.suggestion_weight_distance,
            skills=settings.suggestion_weight_skills,
            load=settings.suggestion_weight_load,
        )


@dataclass
class Suggestion:
    team_id: uuid.UUID
    team_name: str
    score: float
    distance_km: float | None
    position: dict[str, float]
    position_source: str  # "device" or "base"
    position_at: dt.datetime | None
    skills_covered: list[str]
    skills_missing: list[str]
    open_orders: int
    components: dict[str, float] = field(default_factory=dict)

    @property
    def qualified(self) -> bool:
        """The team has every skill the order requires."""
        return not self.skills_missing


def _fresh_positions(
    session: Session, team_ids: list[uuid.UUID], since: dt.datetime
) -> dict[uuid.UUID, tuple[dict[str, Any], dt.datetime]]:
    """The newest recent device position of each team, from active members' unrevoked devices."""
    rows = session.execute(
        select(User.team_id, Device.last_location, Device.last_location_at)
        .join(User, User.id == Device.user_id)
        .where(
            User.team_id.in_(team_ids),
            User.active.is_(True),
            Device.revoked_at.is_(None),
            Device.last_location.is_not(None),
            Device.last_location_at >= since,
        )
    )
    newest: dict[uuid.UUID, tuple[dict[str, Any], dt.datetime]] = {}
    for team_id, location, at in rows:
        if not location or location.get("lat") is None or location.get("lon") is None:
            continue
        if team_id not in newest or at > newest[team_id][1]:
            newest[team_id] = (location, at)
    return newest


def _open_load(
    session: Session, team_ids: list[uuid.UUID], exclude_order: uuid.UUID
) -> dict[uuid.UUID, int]:
    rows = session.execute(
        select(Order.team_id, func.count())
        .where(
            Order.team_id.in_(team_ids), Order.status.in_(OPEN_STATUSES), Order.id != exclude_order
        )
        .group_by(Order.team_id)
    )
    return {team_id: count for team_id, count in rows}


def rank_teams(
    session: Session, settings: Settings, order: Order, now: dt.datetime
) -> list[Suggestion]:
    """Every active team, best first (score, then distance, then name)."""
    teams = list(session.scalars(select(Team).where(Team.active.is_(True))))
    team_ids = [team.id for team in teams]
    positions = _fresh_positions(
        session, team_ids, now - dt.timedelta(minutes=settings.position_fresh_minutes)
    )
    load = _open_load(session, team_ids, order.id)
    weights = Weights.from_settings(settings)
    required = list(dict.fromkeys(order.required_skills or []))
    has_location = order.lat is not None and order.lon is not None
    suggestions = []
    for team in teams:
        if team.id in positions:
            location, position_at = positions[team.id]
            position = {"lat": float(location["lat"]), "lon": float(location["lon"])}
            source = "device"
        else:
            position, position_at, source = (
                {"lat": team.base_lat, "lon": team.base_lon},
                None,
                "base",
            )
        distance = (
            haversine_km(order.lat, order.lon, position["lat"], position["lon"])
            if has_location
            else None
        )
        team_skills = set(team.skills or [])
        covered = [skill for skill in required if skill in team_skills]
        missing = [skill for skill in required if skill not in team_skills]
        open_orders = load.get(team.id, 0)
        components = {
            "distance": (
                settings.suggestion_distance_scale_km
                / (settings.suggestion_distance_scale_km + distance)
                if distance is not None
                else 0.0
            ),
            "skills": len(covered) / len(required) if required else 1.0,
            "load": 1.0 / (1 + open_orders),
        }
        score = (
            weights.distance * components["distance"]
            + weights.skills * components["skills"]
            + weights.load * components["load"]
        )
        suggestions.append(
            Suggestion(
                team_id=team.id,
                team_name=team.name,
                score=round(score, 6),
                distance_km=round(distance, 3) if distance is not None else None,
                position=position,
                position_source=source,
                position_at=position_at,
                skills_covered=covered,
                skills_missing=missing,
                open_orders=open_orders,
                components={name: round(value, 6) for name, value in components.items()},
            )
        )
    suggestions.sort(
        key=lambda s: (
            -s.score,
            s.distance_km if s.distance_km is not None else math.inf,
            s.team_name,
        )
    )
    return suggestions
