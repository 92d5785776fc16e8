"""Uploads endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("uploads", __name__, description="Uploads")
