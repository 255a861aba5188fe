"""Request keys: a digest of a text article's request body as sent (and of what decides
whether that body is accepted and which record it maps to) -> the record's cache key, so a
byte-identical resend is answered with one hash and one read.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_keys",
        # The SHA-256 as its 32 bytes, the table clustered on it (SQLite: WITHOUT ROWID, one
        # b-tree instead of a table and an index): a row is written for every new body.
        sa.Column("digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("cache_key", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("request_keys")
