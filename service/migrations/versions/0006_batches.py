"""Batches of articles, their items and webhook deliveries; on PostgreSQL, procrastinate's
job tables (the batch workers' queue), from the schema file of the procrastinate release this
revision was written for (kept beside it, so the revision never changes with the library).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PROCRASTINATE_SCHEMA = Path(__file__).with_name("procrastinate-3.10.0-schema.sql")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("meta", sa.LargeBinary(), nullable=True),
        sa.Column("api_key", sa.String(64), nullable=True),
        sa.Column("webhook_url", sa.String(), nullable=True),
        sa.Column("webhook_status", sa.String(16), nullable=True),
    )
    op.create_index("ix_batches_created", "batches", ["created_at", "id"])
    op.create_table(
        "batch_items",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=True),
        sa.Column("article_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request", sa.LargeBinary(), nullable=False),
        sa.Column("runner", sa.String(64), nullable=True),
        sa.Column("summary_id", sa.String(64), nullable=True),
        sa.Column("cached", sa.Boolean(), nullable=True),
        sa.Column("error", sa.LargeBinary(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_batch_items_position", "batch_items", ["batch_id", "idx"], unique=True)
    op.create_index("ix_batch_items_state", "batch_items", ["batch_id", "status", "idx"])
    op.create_index("ix_batch_items_todo", "batch_items", ["status", "seq"])
    op.create_index("ix_batch_items_article", "batch_items", ["article_key", "status"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )
    op.create_index("ix_webhook_attempts_batch", "webhook_attempts", ["batch_id", "attempt"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Run as one simple query on the driver's own connection: the file holds many
        # statements and PL/pgSQL bodies with % signs, which parameter binding would read.
        cursor = bind.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(PROCRASTINATE_SCHEMA.read_text(encoding="utf-8"))


def downgrade() -> None:
    for name in ("webhook_attempts", "batch_items", "batches"):
        op.drop_table(name)
