"""media: photos, signatures, resumable uploads

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

The media table holds verified files attached to orders (bytes content-addressed in the media
store); uploads holds tus uploads in progress so that any worker can continue one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import server.models.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_SIZE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.types.TypeEngine:
    return server.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", BIG_SIZE, nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("taken_at", _utc(), nullable=False),
        sa.Column("location", _json(), nullable=True),
        sa.Column("exif_taken_at", sa.String(length=40), nullable=True),
        sa.Column("exif_gps", _json(), nullable=True),
        sa.Column("thumbnail_key", sa.String(length=200), nullable=False),
        sa.Column("thumbnail_content_type", sa.String(length=32), nullable=False),
        sa.Column("uploaded_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("uploaded_by_device_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_media_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["uploaded_by_device_id"], ["devices.id"],
            name=op.f("fk_media_uploaded_by_device_id_devices"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_user_id"], ["users.id"], name=op.f("fk_media_uploaded_by_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
    )
    op.create_index(op.f("ix_media_order_id"), "media", ["order_id"], unique=False)
    op.create_index(op.f("ix_media_sha256"), "media", ["sha256"], unique=False)
    op.create_table(
        "uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("media_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("taken_at", _utc(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("location", _json(), nullable=True),
        sa.Column("metadata_header", sa.String(length=2000), nullable=False),
        sa.Column("upload_length", BIG_SIZE, nullable=False),
        sa.Column("upload_offset", BIG_SIZE, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("completed_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_uploads_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_uploads_order_id_orders")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_uploads_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    op.create_index(op.f("ix_uploads_expires_at"), "uploads", ["expires_at"], unique=False)
    op.create_index(op.f("ix_uploads_order_id"), "uploads", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_uploads_order_id"), table_name="uploads")
    op.drop_index(op.f("ix_uploads_expires_at"), table_name="uploads")
    op.drop_table("uploads")
    op.drop_index(op.f("ix_media_sha256"), table_name="media")
    op.drop_index(op.f("ix_media_order_id"), table_name="media")
    op.drop_table("media")
