"""Media endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("media", __name__, description="Media")
