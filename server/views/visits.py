"""Visits endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("visits", __name__, description="Visits")
