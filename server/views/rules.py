"""Assignment rules: admins and dispatchers keep the ordered list that runs on new orders."""

from __future__ import annotations

import uuid

from flask.views import MethodView

from schemas.rules import RuleListSchema, RulePatchSchema, RuleSchema
from server.api import Blueprint
from server.auth import require_roles
from server.db import db
from server.domain import assignment_rules

blp = Blueprint("rules", __name__, description="Automatic assignment rules")

RULE_EDITORS = ("admin", "dispatcher")


@blp.route("/rules")
class Rules(MethodView):
    @require_roles(*RULE_EDITORS)
    @blp.response(200, RuleListSchema)
    def get(self):
        """All rules in the order they are tried (one page: rules are few)."""
        return {"items": list(assignment_rules.ordered_rules(db.session)), "next_cursor": None}

    @require_roles(*RULE_EDITORS)
    @blp.arguments(RuleSchema)
    @blp.response(201, RuleSchema)
    def post(self, fields):
        """Create a rule; without `position` it is tried after every existing rule."""
        return assignment_rules.create_rule(db.session, fields)


@blp.route("/rules/<uuid:rule_id>")
class RuleById(MethodView):
    @require_roles(*RULE_EDITORS)
    @blp.response(200, RuleSchema)
    def get(self, rule_id: uuid.UUID):
        """Read one rule."""
        return assignment_rules.get_rule(db.session, rule_id)

    @require_roles(*RULE_EDITORS)
    @blp.arguments(RulePatchSchema)
    @blp.response(200, RuleSchema)
    def patch(self, changes, rule_id: uuid.UUID):
        """Change a rule's name, position, enabled flag, conditions or action."""
        return assignment_rules.update_rule(db.session, rule_id, changes)

    @require_roles(*RULE_EDITORS)
    @blp.response(204)
    def delete(self, rule_id: uuid.UUID):
        """Delete a rule; orders it assigned keep their team and their audit trail."""
        assignment_rules.delete_rule(db.session, rule_id)
