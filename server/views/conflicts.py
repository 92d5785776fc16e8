"""Conflicts endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("conflicts", __name__, description="Conflicts")
