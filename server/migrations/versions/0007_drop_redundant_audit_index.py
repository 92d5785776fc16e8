"""audit_events: drop the index on order_id alone, which the (order_id, seq) unique index covers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

An order's events are read by `order_id` (in `seq` order) and the foreign key to `orders` is
checked by it: the unique `(order_id, seq)` index serves both, as its leading column. The
index on `order_id` alone was only written: one more index entry for every audit event, and
a push writes one event per mutation.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_audit_events_order_id", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_order_id", "audit_events", ["order_id"], unique=False)
