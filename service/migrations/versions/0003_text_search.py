"""Full-text search over headline, summary, place and perpetrators.

SQLite: an FTS5 table holding a copy of the four columns and the record's id, kept in step by
triggers. A copy rather than an external-content table: those address rows by ``rowid``, which
``VACUUM`` may renumber in a table whose key is text.

PostgreSQL: a stored generated ``tsvector`` column with a GIN index; headline weighs most, then
place and perpetrators, then summary.

Both use no stemming and no stop words (``unicode61`` / ``simple``): articles come in many
languages, and one language's rules would mangle the others' words.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = "headline, summary, place, perpetrators"
NEW = "new.id, new.headline, new.summary, new.place, new.perpetrators"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            ALTER TABLE summaries ADD COLUMN search tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('simple', coalesce(headline, '')), 'A')
                || setweight(to_tsvector('simple', coalesce(place, '')), 'B')
                || setweight(to_tsvector('simple', coalesce(perpetrators, '')), 'B')
                || setweight(to_tsvector('simple', coalesce(summary, '')), 'C')
            ) STORED
            """
        )
        op.execute("CREATE INDEX ix_summaries_search ON summaries USING gin (search)")
        return
    op.execute(
        f"CREATE VIRTUAL TABLE summaries_fts USING fts5(id UNINDEXED, {COLUMNS}, "
        "tokenize = 'unicode61 remove_diacritics 0')"
    )
    op.execute(f"INSERT INTO summaries_fts (id, {COLUMNS}) SELECT id, {COLUMNS} FROM summaries")
    op.execute(
        "CREATE TRIGGER summaries_fts_insert AFTER INSERT ON summaries BEGIN "
        f"INSERT INTO summaries_fts (id, {COLUMNS}) VALUES ({NEW}); END"
    )
    op.execute(
        "CREATE TRIGGER summaries_fts_delete AFTER DELETE ON summaries BEGIN "
        "DELETE FROM summaries_fts WHERE id = old.id; END"
    )
    op.execute(
        f"CREATE TRIGGER summaries_fts_update AFTER UPDATE OF id, {COLUMNS} ON summaries BEGIN "
        "DELETE FROM summaries_fts WHERE id = old.id; "
        f"INSERT INTO summaries_fts (id, {COLUMNS}) VALUES ({NEW}); END"
    )
