"""Rules endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("rules", __name__, description="Rules")
