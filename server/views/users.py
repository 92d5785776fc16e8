"""Users of every role (admin only); passwords go in, never out."""

from __future__ import annotations

import uuid

from flask import current_app
from flask.views import MethodView

from schemas.people import UserCreateSchema, UserListArgs, UserListSchema, UserSchema
from server.api import Blueprint
from server.auth import require_roles
from server.db import db
from server.domain import people

blp = Blueprint("users", __name__, description="Users: admins, dispatchers, agents and crew")


@blp.route("/users")
class Users(MethodView):
    @require_roles("admin")
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, UserListSchema)
    def get(self, args):
        """List users, oldest first, filtered by role, team or active flag (admin)."""
        return people.list_users(
            db.session, limit=args["limit"], cursor=args["cursor"], role=args.get("role"),
            team_id=args.get("team_id"), active=args.get("active"),
        ).as_dict()

    @require_roles("admin")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(409, description="The username is taken (`code` `conflict`).")
    def post(self, fields):
        """Create a user; crew members need a team, staff have none (admin)."""
        return people.create_user(db.session, current_app.config["SETTINGS"], fields)


@blp.route("/users/<uuid:user_id>")
class UserById(MethodView):
    @require_roles("admin")
    @blp.response(200, UserSchema)
    def get(self, user_id: uuid.UUID):
        """Read one user (admin)."""
        return people.get_user(db.session, user_id)


@blp.route("/users/<uuid:user_id>/deactivate", methods=["POST"])
@require_roles("admin")
@blp.response(200, UserSchema)
def deactivate_user(user_id: uuid.UUID):
    """Deactivate a user: their tokens are refused (401 `user_inactive`) from the next request."""
    return people.deactivate_user(db.session, user_id)
