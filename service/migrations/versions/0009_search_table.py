"""Search in a narrow table of its own (PostgreSQL): a search reads each match's ``tsvector``
without visiting the record's wide row.

``ts_rank`` needs every match's ``tsvector``, so a ranked search visits every match, and in
``summaries`` each visit read a row carrying the served resource (``body``, about 2 KB). The
vector, with the columns the listing filters and orders on, now lives in ``summaries_search``
(one row per record, a GIN index on the vector), kept in step by a trigger on ``summaries``;
the vector (0003's expression, unchanged: the same scores) is no longer a column of
``summaries``. A record's row goes with it (a foreign key, on delete cascade).

SQLite: nothing changes (its index is ``summaries_fts``, see 0008).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# 0003's vector: headline weighs most, then place and perpetrators, then summary.
VECTOR = """
    setweight(to_tsvector('simple', coalesce({r}headline, '')), 'A')
    || setweight(to_tsvector('simple', coalesce({r}place, '')), 'B')
    || setweight(to_tsvector('simple', coalesce({r}perpetrators, '')), 'B')
    || setweight(to_tsvector('simple', coalesce({r}summary, '')), 'C')
"""
# What the listing filters and orders on, copied beside the vector.
KEYS = "id, created_at, latest, is_incident, category, country_code, event_date"
# The trigger fires when one of these changes (not for ``superseded`` alone).
WATCHED = "created_at, latest, is_incident, category, country_code, event_date, " + (
    "headline, summary, place, perpetrators"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE TABLE summaries_search (
            id VARCHAR(64) PRIMARY KEY REFERENCES summaries (id) ON DELETE CASCADE,
            created_at TIMESTAMP WITH TIME ZONE NOT NULL,
            latest BOOLEAN NOT NULL,
            is_incident BOOLEAN NOT NULL,
            category VARCHAR,
            country_code VARCHAR,
            event_date VARCHAR,
            search tsvector NOT NULL
        )
        """
    )
    op.execute(
        f"INSERT INTO summaries_search ({KEYS}, search) "
        f"SELECT {KEYS}, {VECTOR.format(r='')} FROM summaries"
    )
    op.execute("DROP INDEX ix_summaries_search")
    op.execute("ALTER TABLE summaries DROP COLUMN search")
    op.execute("CREATE INDEX ix_summaries_search ON summaries_search USING gin (search)")
    updates = ", ".join(f"{c} = excluded.{c}" for c in [*KEYS.split(", ")[1:], "search"])
    new = ", ".join(f"new.{c}" for c in KEYS.split(", "))
    op.execute(
        f"""
        CREATE FUNCTION summaries_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO summaries_search ({KEYS}, search)
            VALUES ({new}, {VECTOR.format(r="new.")})
            ON CONFLICT (id) DO UPDATE SET {updates};
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        f"CREATE TRIGGER summaries_search_sync AFTER INSERT OR UPDATE OF {WATCHED} "
        "ON summaries FOR EACH ROW EXECUTE FUNCTION summaries_search_sync()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER summaries_search_sync ON summaries")
    op.execute("DROP FUNCTION summaries_search_sync()")
    op.execute("DROP TABLE summaries_search")
    op.execute(
        f"ALTER TABLE summaries ADD COLUMN search tsvector GENERATED ALWAYS AS "
        f"({VECTOR.format(r='')}) STORED"
    )
    op.execute("CREATE INDEX ix_summaries_search ON summaries USING gin (search)")
