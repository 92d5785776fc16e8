"""Reports endpoints (placeholder until its issue fills it in)."""

from server.api import Blueprint

blp = Blueprint("reports", __name__, description="Reports")
