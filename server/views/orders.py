"""Orders endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("orders", __name__, description="Orders")
