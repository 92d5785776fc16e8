"""Automatic assignment rules: stored in order, run when an order is created.

Enabled rules are tried by ascending `position` (ties by creation time). The first rule whose
conditions all hold decides, and no later rule is tried:

- `{"type": "fixed_team", "team_id": ...}` assigns that team;
- `{"type": "best_suggestion"}` assigns the best-ranked team (server.domain.suggestions) among
  those that have every skill the order requires.

The assignment goes through `assign_order` with source `system` and details naming the rule,
so the audit trail says which rule made it. When the deciding rule cannot act (no qualified
team, or its fixed team was deactivated) the order stays `new` for a human and an
`auto_assign_skipped` event records the rule and the reason. Orders no rule matches stay `new`
with no event.

Conditions (all optional; an empty set matches every order):
`source`, `kind`, `priority`: lists of accepted values;
`required_skills`: `{"mode": "all" | "any" | "subset", "skills": [...]}` meaning the order
requires every listed skill / at least one of them / nothing beyond them;
`area`: `{"bbox": [min_lat, min_lon, max_lat, max_lon]}` or
`{"center": {"lat", "lon"}, "radius_km": r}` (an order without a location never matches).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.config import Settings
from server.domain.assignment import assign_order
from server.domain.audit import SYSTEM
from server.domain.history import record_order_change
from server.domain.suggestions import haversine_km, rank_teams
from server.errors import NotFound, ValidationFailed
from server.models.base import utcnow
from server.models.dispatch import AssignmentRule
from server.models.orders import Order
from server.models.people import Team
from server.plain_json import jsonable


def _skills_match(spec: dict[str, Any], order_skills: set[str]) -> bool:
    listed = set(spec.get("skills") or [])
    mode = spec.get("mode", "all")
    if mode == "any":
        return bool(listed & order_skills)
    if mode == "subset":
        return order_skills <= listed
    return listed <= order_skills


def _area_match(area: dict[str, Any], order: Order) -> bool:
    if order.lat is None or order.lon is None:
        return False
    if "bbox" in area:
        min_lat, min_lon, max_lat, max_lon = area["bbox"]
        return min_lat <= order.lat <= max_lat and min_lon <= order.lon <= max_lon
    center = area["center"]
    return haversine_km(center["lat"], center["lon"], order.lat, order.lon) <= area["radius_km"]


def rule_matches(conditions: dict[str, Any], order: Order) -> bool:
    """True when every condition the rule sets holds for the order."""
    for name in ("source", "kind", "priority"):
        accepted = conditions.get(name)
        if accepted and getattr(order, name) not in accepted:
            return False
    skills = conditions.get("required_skills")
    if skills and not _skills_match(skills, set(order.required_skills or [])):
        return False
    area = conditions.get("area")
    return not (area and not _area_match(area, order))


def ordered_rules(session: Session, *, enabled_only: bool = False):
    """The rules in the order they are tried."""
    query = select(AssignmentRule).order_by(
        AssignmentRule.position, AssignmentRule.created_at, AssignmentRule.id
    )
    if enabled_only:
        query = query.where(AssignmentRule.enabled.is_(True))
    return session.scalars(query)


def _choose_team(
    session: Session, settings: Settings, order: Order, action: dict[str, Any]
) -> tuple[uuid.UUID | None, dict[str, Any]]:
    """The team the action picks and facts for the audit trail, or None and the reason."""
    if action["type"] == "fixed_team":
        team = session.get(Team, uuid.UUID(str(action["team_id"])))
        if team is None or not team.active:
            return None, {"reason": "the rule's team is inactive or gone"}
        return team.id, {}
    qualified = [s for s in rank_teams(session, settings, order, utcnow()) if s.qualified]
    if not qualified:
        return None, {"reason": "no active team has every required skill"}
    best = qualified[0]
    return best.team_id, {"score": best.score, "distance_km": best.distance_km}


def run_on_create(session: Session, settings: Settings, order: Order) -> None:
    """Apply the first matching rule to a new order; orders no rule matches stay `new`."""
    for rule in ordered_rules(session, enabled_only=True):
        if not rule_matches(rule.conditions or {}, order):
            continue
        team_id, facts = _choose_team(session, settings, order, rule.action)
        details = {"rule_id": rule.id, "rule_name": rule.name, **facts}
        if team_id is None:
            record_order_change(
                session,
                order,
                action="auto_assign_skipped",
                source="system",
                actor=SYSTEM,
                bump_version=False,
                details=details,
            )
        else:
            assign_order(
                session,
                order,
                team_id=team_id,
                user_ids=None,
                actor=SYSTEM,
                source="system",
                details=details,
            )
        return


def _check_action(session: Session, action: dict[str, Any]) -> dict[str, Any]:
    """The action as stored (JSON): a fixed team must exist and be active when the rule is saved."""
    if action["type"] != "fixed_team":
        return {"type": action["type"]}
    team = session.get(Team, action["team_id"])
    if team is None or not team.active:
        raise ValidationFailed(
            "No such active team.", errors={"action": {"team_id": ["Unknown team."]}}
        )
    return {"type": "fixed_team", "team_id": str(team.id)}


def get_rule(session: Session, rule_id: uuid.UUID) -> AssignmentRule:
    rule = session.get(AssignmentRule, rule_id)
    if rule is None:
        raise NotFound("No such rule.")
    return rule


def create_rule(session: Session, fields: dict[str, Any]) -> AssignmentRule:
    """A new rule; without a `position` it goes after the last one."""
    position = fields.get("position")
    if position is None:
        last = session.scalar(select(func.max(AssignmentRule.position)))
        position = 10 if last is None else last + 10
    now = utcnow()
    rule = AssignmentRule(
        name=fields["name"],
        position=position,
        enabled=fields.get("enabled", True),
        conditions=jsonable(fields.get("conditions") or {}),
        action=_check_action(session, fields["action"]),
        created_at=now,
        updated_at=now,
    )
    session.add(rule)
    session.flush()
    return rule


def update_rule(session: Session, rule_id: uuid.UUID, changes: dict[str, Any]) -> AssignmentRule:
    rule = get_rule(session, rule_id)
    for name in ("name", "position", "enabled"):
        if name in changes:
            setattr(rule, name, changes[name])
    if "conditions" in changes:
        rule.conditions = jsonable(changes["conditions"])
    if "action" in changes:
        rule.action = _check_action(session, changes["action"])
    rule.updated_at = utcnow()
    session.flush()
    return rule


def delete_rule(session: Session, rule_id: uuid.UUID) -> None:
    session.delete(get_rule(session, rule_id))
    session.flush()
