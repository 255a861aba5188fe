"""Each article's newest record is marked ``latest``; place and perpetrators get columns.

The listing shows one record per article (its newest), and text search reads place and
perpetrators besides headline and summary. Existing rows are filled in from their stored body.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BATCH = 1000


def search_fields(incident: dict) -> dict:
    # As service.store.search_fields was at this revision (a migration never changes).
    names = [
        p.get("name") or ""
        for p in incident.get("perpetrators") or []
        if (p.get("name") or "").lower() != "unknown"
    ]
    return {
        "place": (incident.get("location") or {}).get("place"),
        "perpetrators": " ".join(n for n in names if n) or None,
    }


def upgrade() -> None:
    op.add_column(
        "summaries", sa.Column("latest", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("summaries", sa.Column("place", sa.String(), nullable=True))
    op.add_column("summaries", sa.Column("perpetrators", sa.String(), nullable=True))
    bind = op.get_bind()
    summaries = sa.table(
        "summaries",
        sa.column("id", sa.String()),
        sa.column("content_sha256", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("latest", sa.Boolean()),
        sa.column("place", sa.String()),
        sa.column("perpetrators", sa.String()),
        sa.column("body", sa.LargeBinary()),
    )
    # The newest record of each article: none of its article's records is newer.
    newer = sa.alias(summaries, "newer")
    newest = ~sa.exists().where(
        newer.c.content_sha256 == summaries.c.content_sha256,
        sa.or_(
            newer.c.created_at > summaries.c.created_at,
            sa.and_(newer.c.created_at == summaries.c.created_at, newer.c.id > summaries.c.id),
        ),
    )
    bind.execute(sa.update(summaries).where(newest).values(latest=True))
    fill = (
        sa.update(summaries)
        .where(summaries.c.id == sa.bindparam("row_id"))
        .values(place=sa.bindparam("place"), perpetrators=sa.bindparam("perpetrators"))
    )
    last = ""
    while True:
        rows = bind.execute(
            sa.select(summaries.c.id, summaries.c.body)
            .where(summaries.c.id > last)
            .order_by(summaries.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        values = []
        for row_id, body in rows:
            incident = orjson.loads(body).get("incident") or {}
            values.append({"row_id": row_id, **search_fields(incident)})
        bind.execute(fill, values)
        last = rows[-1][0]
    op.create_index("ix_summaries_latest", "summaries", ["latest", "created_at", "id"])
    op.create_index("ix_summaries_article", "summaries", ["content_sha256", "created_at"])
