"""Sync endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("sync", __name__, description="Sync")
