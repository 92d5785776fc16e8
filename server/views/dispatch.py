"""Dispatch suggestions: which teams to send to an order, best first, with the reasons."""

from __future__ import annotations

from typing import Any

from flask import current_app

from schemas.dispatch import SuggestionArgs, SuggestionListSchema
from server.api import Blueprint
from server.auth import current_principal, require_roles
from server.db import db
from server.domain.scope import get_visible_order
from server.domain.suggestions import Weights, rank_teams
from server.models.base import utcnow

blp = Blueprint("dispatch", __name__, description="Dispatch: team suggestions for an order")


@blp.route("/dispatch/suggestions", methods=["GET"])
@require_roles("dispatcher", "admin")
@blp.arguments(SuggestionArgs, location="query")
@blp.response(200, SuggestionListSchema)
def suggestions(args: dict[str, Any]):
    """Rank active teams for an order by distance, skills and open load (dispatcher, admin)."""
    settings = current_app.config["SETTINGS"]
    order = get_visible_order(db.session, current_principal(), args["order_id"])
    ranked = rank_teams(db.session, settings, order, utcnow())
    weights = Weights.from_settings(settings)
    return {
        "order_id": order.id,
        "weights": {
            "distance": weights.distance,
            "skills": weights.skills,
            "load": weights.load,
            "distance_scale_km": settings.suggestion_distance_scale_km,
            "position_fresh_minutes": settings.position_fresh_minutes,
        },
        "items": ranked,
    }
