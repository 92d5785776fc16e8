"""sync engine: mutations, rejections, conflicts, reference data

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Placeholder owned by the sync issue: fill in upgrade() and downgrade() for server/models/sync.py.
"""

from __future__ import annotations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
