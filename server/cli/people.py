"""People commands: `create-user` makes the first admin (and any other user) from a shell."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError

from schemas.people import UserCreateSchema
from server.db import db
from server.domain.people import create_user
from server.errors import ApiError
from server.models.people import ROLES


def _describe(errors: dict) -> str:
    return "; ".join(f"{name}: {' '.join(map(str, texts))}" for name, texts in errors.items())


@click.command("create-user")
@with_appcontext
@click.option("--username", required=True)
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--team-id", default=None, help="The team's id; required for crew members.")
@click.option("--display-name", default="")
@click.option("--phone", default=None)
def create_user_command(username: str, password: str, role: str, team_id: str | None,
                        display_name: str, phone: str | None) -> None:
    """Create a user of any role (the same checks as POST /api/v1/users)."""
    try:
        fields = UserCreateSchema().load({
            "username": username, "password": password, "role": role, "team_id": team_id,
            "display_name": display_name, "phone": phone,
        })
        with db.transaction() as session:
            user = create_user(session, current_app.config["SETTINGS"], fields)
    except ValidationError as error:
        raise click.ClickException(_describe(error.messages)) from error
    except ApiError as error:
        raise click.ClickException(_describe(error.errors or {}) or str(error.detail)) from error
    click.echo(f"created {user.role} {user.username} ({user.id})")


commands = [create_user_command]
