"""sync engine: mutations, rejections, conflicts, reference data

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

processed_mutations makes pushes exactly once, mutation_rejections keeps what was refused,
conflicts holds what a dispatcher must settle, reference_data the code lists tablets sync
(seeded with a first set of cause and resolution codes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import server.models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SEED_REFERENCE_DATA = {
    "cause_codes": {"codes": [
        {"code": "cable_fault", "label": "Cable fault"},
        {"code": "transformer_failure", "label": "Transformer failure"},
        {"code": "breaker_tripped", "label": "Breaker tripped"},
        {"code": "fuse_blown", "label": "Fuse blown"},
        {"code": "meter_fault", "label": "Meter fault"},
        {"code": "vegetation", "label": "Vegetation contact"},
        {"code": "weather", "label": "Storm or lightning damage"},
        {"code": "third_party_damage", "label": "Third-party damage"},
        {"code": "overload", "label": "Overload"},
        {"code": "customer_side", "label": "Fault on the customer's side"},
        {"code": "other", "label": "Other"},
    ]},
    "resolution_codes": {"codes": [
        {"code": "repaired", "label": "Repaired"},
        {"code": "replaced", "label": "Part replaced"},
        {"code": "reset", "label": "Reset or re-energised"},
        {"code": "temporary_fix", "label": "Temporary fix, follow-up needed"},
        {"code": "referred", "label": "Referred to another team"},
        {"code": "no_fault_found", "label": "No fault found"},
        {"code": "customer_responsibility", "label": "Customer's responsibility"},
        {"code": "other", "label": "Other"},
    ]},
}


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.types.TypeEngine:
    return server.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "processed_mutations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("order_version", sa.Integer(), nullable=True),
        sa.Column("processed_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_processed_mutations_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_mutations")),
    )
    op.create_index(
        op.f("ix_processed_mutations_device_id"), "processed_mutations", ["device_id"], unique=False
    )
    op.create_table(
        "mutation_rejections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("mutation_id", sa.Uuid(), nullable=True),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("mutation_type", sa.String(length=32), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("errors", _json(), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_mutation_rejections_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mutation_rejections")),
    )
    op.create_index(
        "ix_mutation_rejections_created", "mutation_rejections", ["created_at", "id"], unique=False
    )
    op.create_index(
        op.f("ix_mutation_rejections_code"), "mutation_rejections", ["code"], unique=False
    )
    op.create_index(
        op.f("ix_mutation_rejections_device_id"), "mutation_rejections", ["device_id"], unique=False
    )
    op.create_index(
        op.f("ix_mutation_rejections_order_id"), "mutation_rejections", ["order_id"], unique=False
    )
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("mutation_id", sa.Uuid(), nullable=True),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.Column("mutation", _json(), nullable=False),
        sa.Column("details", _json(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_conflicts_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_conflicts_resolved_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
    )
    op.create_index(
        "ix_conflicts_open_created", "conflicts", ["resolved_at", "created_at"], unique=False
    )
    op.create_index(op.f("ix_conflicts_order_id"), "conflicts", ["order_id"], unique=False)
    reference = op.create_table(
        "reference_data",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_data")),
    )
    now = server.models.base.utcnow()
    op.bulk_insert(reference, [
        {"id": key, "version": 1, "data": data, "updated_at": now}
        for key, data in SEED_REFERENCE_DATA.items()
    ])


def downgrade() -> None:
    op.drop_table("reference_data")
    op.drop_index(op.f("ix_conflicts_order_id"), table_name="conflicts")
    op.drop_index("ix_conflicts_open_created", table_name="conflicts")
    op.drop_table("conflicts")
    op.drop_index(op.f("ix_mutation_rejections_order_id"), table_name="mutation_rejections")
    op.drop_index(op.f("ix_mutation_rejections_device_id"), table_name="mutation_rejections")
    op.drop_index(op.f("ix_mutation_rejections_code"), table_name="mutation_rejections")
    op.drop_index("ix_mutation_rejections_created", table_name="mutation_rejections")
    op.drop_table("mutation_rejections")
    op.drop_table("processed_mutations")
