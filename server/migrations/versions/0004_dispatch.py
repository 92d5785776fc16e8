"""dispatch: assignment rules, SLA events, follow up visits

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Placeholder owned by the dispatch issue: fill in upgrade() and downgrade() for server/models/dispatch.py.
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
