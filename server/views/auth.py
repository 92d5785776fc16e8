"""Auth endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("auth", __name__, description="Auth")
