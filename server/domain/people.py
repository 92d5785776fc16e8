"""Teams and users: creation, edits, deactivation and lists, as plain functions over a Session."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.auth.passwords import hash_password, verify_password
from server.config import Settings
from server.domain.pagination import Page, keyset_page
from server.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from server.models.base import utcnow
from server.models.people import Team, User


def get_team(session: Session, team_id: uuid.UUID) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound("No such team.")
    return team


def _check_team_name_free(session: Session, name: str, exclude: uuid.UUID | None = None) -> None:
    query = select(Team.id).where(Team.name == name)
    if exclude is not None:
        query = query.where(Team.id != exclude)
    if session.scalar(query) is not None:
        raise Conflict(f"A team named {name!r} already exists.")


def _flush_unique(session: Session, detail: str) -> None:
    """Flush inside a savepoint so a concurrent insert of the same unique value is a clean 409."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:
        raise Conflict(detail) from error


def create_team(session: Session, fields: dict[str, Any]) -> Team:
    _check_team_name_free(session, fields["name"])
    location = fields["base_location"]
    team = Team(
        name=fields["name"], base_lat=location["lat"], base_lon=location["lon"],
        skills=list(fields.get("skills") or []), active=fields.get("active", True),
    )
    session.add(team)
    _flush_unique(session, f"A team named {fields['name']!r} already exists.")
    return team


def update_team(session: Session, team_id: uuid.UUID, changes: dict[str, Any]) -> Team:
    team = get_team(session, team_id)
    if "name" in changes and changes["name"] != team.name:
        _check_team_name_free(session, changes["name"], exclude=team.id)
        team.name = changes["name"]
    if "base_location" in changes:
        team.base_lat = changes["base_location"]["lat"]
        team.base_lon = changes["base_location"]["lon"]
    if "skills" in changes:
        team.skills = list(changes["skills"])
    if "active" in changes:
        team.active = changes["active"]
    _flush_unique(session, f"A team named {team.name!r} already exists.")
    return team


def list_teams(session: Session, *, limit: int, cursor: str | None,
               active: bool | None = None) -> Page:
    query = select(Team)
    if active is not None:
        query = query.where(Team.active.is_(active))
    return keyset_page(session, query, Team, limit=limit, cursor=cursor)


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def find_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def _check_team_membership(session: Session, role: str, team_id: uuid.UUID | None) -> None:
    """A crew member belongs to exactly one active team; staff belong to none."""
    if role == "crew":
        if team_id is None:
            raise ValidationFailed("Crew members need a team.",
                                   errors={"team_id": ["Crew members need a team."]})
        team = session.get(Team, team_id)
        if team is None:
            raise ValidationFailed("Unknown team.", errors={"team_id": ["No such team."]})
        if not team.active:
            raise ValidationFailed("Inactive team.", errors={"team_id": ["The team is inactive."]})
    elif team_id is not None:
        raise ValidationFailed(
            "Only crew members belong to a team.",
            errors={"team_id": [f"A {role} does not belong to a team; leave it empty."]},
        )


def check_credentials(session: Session, settings: Settings, username: str, password: str) -> User:
    """The active user with this password, else one 401 that never says which part was wrong.

    An unknown username still costs one password check (against a dummy hash), so neither the
    answer nor its timing reveals whether the user exists.
    """
    user = find_user_by_username(session, username)
    method = settings.password_hash_method
    valid = verify_password(user.password_hash if user else None, password, method)
    if user is None or not valid or not user.active:
        raise Unauthorized("The username or password is wrong.", code="invalid_credentials")
    return user


def create_user(session: Session, settings: Settings, fields: dict[str, Any]) -> User:
    """Create a user of any role; the password is stored only as a slow salted hash."""
    username = fields["username"].strip().lower()
    _check_team_membership(session, fields["role"], fields.get("team_id"))
    if find_user_by_username(session, username) is not None:
        raise Conflict(f"The username {username!r} is taken.")
    user = User(
        username=username,
        password_hash=hash_password(fields["password"], settings.password_hash_method),
        role=fields["role"],
        display_name=fields.get("display_name") or "",
        phone=fields.get("phone"),
        team_id=fields.get("team_id"),
        active=True,
    )
    session.add(user)
    _flush_unique(session, f"The username {username!r} is taken.")
    return user


def deactivate_user(session: Session, user_id: uuid.UUID) -> User:
    """Deactivate (idempotent): the user's access and device tokens fail on their next request."""
    user = get_user(session, user_id)
    if user.active:
        user.active = False
        user.deactivated_at = utcnow()
        session.flush()
    return user


def list_users(session: Session, *, limit: int, cursor: str | None, role: str | None = None,
               team_id: uuid.UUID | None = None, active: bool | None = None) -> Page:
    query = select(User)
    if role is not None:
        query = query.where(User.role == role)
    if team_id is not None:
        query = query.where(User.team_id == team_id)
    if active is not None:
        query = query.where(User.active.is_(active))
    return keyset_page(session, query, User, limit=limit, cursor=cursor)
