"""Automatic assignment rules (placeholder until the dispatch issue fills it in)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.config import Settings
from server.models.orders import Order


def run_on_create(session: Session, settings: Settings, order: Order) -> None:
    """Apply the first matching rule to a new order; orders no rule matches stay `new`."""
