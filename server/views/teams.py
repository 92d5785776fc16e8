"""Teams (repair crews), admin only (PROTOCOL.md section 2); dispatchers see team ids and names
in the dispatch suggestions instead."""

from __future__ import annotations

import uuid

from flask.views import MethodView

from schemas.people import TeamListArgs, TeamListSchema, TeamOutSchema, TeamPatchSchema, TeamSchema
from server.api import Blueprint
from server.auth import require_roles
from server.db import db
from server.domain import people

blp = Blueprint("teams", __name__, description="Teams: base location, skills, crew members")


@blp.route("/teams")
class Teams(MethodView):
    @require_roles("admin")
    @blp.arguments(TeamListArgs, location="query")
    @blp.response(200, TeamListSchema)
    def get(self, args):
        """List teams, oldest first (admin)."""
        return people.list_teams(db.session, limit=args["limit"], cursor=args["cursor"],
                                 active=args.get("active")).as_dict()

    @require_roles("admin")
    @blp.arguments(TeamSchema)
    @blp.response(201, TeamOutSchema)
    @blp.alt_response(409, description="A team with that name exists (`code` `conflict`).")
    def post(self, fields):
        """Create a team (admin)."""
        return people.create_team(db.session, fields)


@blp.route("/teams/<uuid:team_id>")
class TeamById(MethodView):
    @require_roles("admin")
    @blp.response(200, TeamOutSchema)
    def get(self, team_id: uuid.UUID):
        """Read one team (admin)."""
        return people.get_team(db.session, team_id)

    @require_roles("admin")
    @blp.arguments(TeamPatchSchema)
    @blp.response(200, TeamOutSchema)
    @blp.alt_response(409, description="A team with that name exists (`code` `conflict`).")
    def patch(self, changes, team_id: uuid.UUID):
        """Change a team's name, base, skills or active flag (admin)."""
        return people.update_team(db.session, team_id, changes)
