"""Teams endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("teams", __name__, description="Teams")
