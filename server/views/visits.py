"""Follow-up visits by customer service (PROTOCOL.md section 7)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask.views import MethodView

from schemas.base import PaginationArgs
from schemas.visits import PendingArgs, PendingListSchema, VisitListSchema, VisitSchema
from server.api import Blueprint
from server.auth import current_principal, require_roles
from server.db import db
from server.domain import visits
from server.domain.scope import get_visible_order
from server.models.base import utcnow

blp = Blueprint("visits", __name__, description="Follow-up visits of completed orders")

VISITORS = ("agent", "dispatcher", "admin")


@blp.route("/visits/pending", methods=["GET"])
@require_roles(*VISITORS)
@blp.arguments(PendingArgs, location="query")
@blp.response(200, PendingListSchema)
def pending(args: dict[str, Any]):
    """Completed orders awaiting their follow-up, oldest completion first.

    Each item is the order as `GET /orders/{id}` serves it, plus `followup` (due time, attempts).
    """
    page = visits.pending_followups(
        db.session,
        current_app.config["SETTINGS"],
        utcnow(),
        limit=args["limit"],
        cursor=args["cursor"],
        overdue_only=bool(args.get("overdue")),
    )
    return page.as_dict()


@blp.route("/orders/<uuid:order_id>/visits")
class OrderVisits(MethodView):
    @require_roles(*VISITORS)
    @blp.arguments(PaginationArgs, location="query")
    @blp.response(200, VisitListSchema)
    def get(self, args: dict[str, Any], order_id: uuid.UUID):
        """The order's follow-up visits, in the order they were recorded."""
        order = get_visible_order(db.session, current_principal(), order_id)
        return visits.order_visits(
            db.session, order.id, limit=args["limit"], cursor=args["cursor"]
        ).as_dict()

    @require_roles(*VISITORS)
    @blp.arguments(VisitSchema)
    @blp.response(201, VisitSchema)
    @blp.alt_response(
        200,
        schema=VisitSchema,
        description="Replay of a stored visit (same id and content): nothing changed.",
    )
    @blp.alt_response(
        409,
        description="`invalid_transition` (the order is not completed) or "
        "`visit_id_reused` (the id belongs to a visit with other content).",
    )
    def post(self, fields: dict[str, Any], order_id: uuid.UUID):
        """Record a visit: `resolved` closes the order, `reopen` reopens it; idempotent on `id`."""
        principal = current_principal()
        order = get_visible_order(db.session, principal, order_id, for_update=True)
        outcome = visits.record_visit(
            db.session,
            current_app.config["SETTINGS"],
            order,
            actor=principal.actor,
            fields=fields,
        )
        return outcome.visit, 201 if outcome.created else 200
