"""SLA deadlines (placeholder until the dispatch issue fills it in)."""

from __future__ import annotations

from server.config import Settings
from server.models.orders import Order


def apply_default_deadlines(order: Order, settings: Settings) -> None:
    """Fill `sla_arrive_by` / `sla_complete_by` the creator left out, from per-priority targets."""


def overdue_condition(kind: str, now):
    """SQL condition for orders whose `kind` target (arrival, completion, followup) is breached.

    Used by `GET /orders?overdue=`; returns None while SLA tracking is not implemented.
    """
    return None
