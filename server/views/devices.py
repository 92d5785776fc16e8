"""Devices endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("devices", __name__, description="Devices")
