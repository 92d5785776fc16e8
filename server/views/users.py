"""Users endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("users", __name__, description="Users")
