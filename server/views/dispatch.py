"""Dispatch endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("dispatch", __name__, description="Dispatch")
