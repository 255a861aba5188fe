"""Search index rows in the order of their records' age (SQLite), so a ranked search breaks
ties in the index.

FTS5 ranks matches by bm25 alone, and this service breaks ties newest first (``created_at``,
then ``id``), which the index did not hold: every match tied with the last candidate was
joined to its record to be ordered. Each row of ``summaries_fts`` now has a rowid in the block
of its record's ``created_at`` second, ``second * 2**24`` and up (the next free slot of that
block; 16,777,216 records a second at most). The index ordered by rank, then rowid descending,
orders ties by second, newest first; only the ties within the last candidate's second need
their records to be ordered (``Store._sqlite_statement``).

The table is rebuilt with such rowids, and the triggers give them: a row moves with its
record's ``created_at``, and a record's row is found in its second's block (it was looked for
by ``id``, which FTS5 does not index: a scan of every row).

PostgreSQL: nothing changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = "headline, summary, place, perpetrators"
BLOCK = 1 << 24  # rowids per second (``service.store.FTS_BLOCK``)


def _first(record: str) -> str:
    """The first rowid of the block of ``record``'s ``created_at`` second."""
    return f"CAST(strftime('%s', {record}.created_at) AS INTEGER) * {BLOCK}"


def _insert(record: str) -> str:
    first = _first(record)
    free = (
        f"coalesce((SELECT max(rowid) + 1 FROM summaries_fts "
        f"WHERE rowid >= {first} AND rowid < {first} + {BLOCK}), {first})"
    )
    values = ", ".join(f"{record}.{c}" for c in ["id", *COLUMNS.split(", ")])
    return f"INSERT INTO summaries_fts (rowid, id, {COLUMNS}) VALUES ({free}, {values});"


def _delete(record: str) -> str:
    first = _first(record)
    return (
        f"DELETE FROM summaries_fts WHERE rowid >= {first} AND rowid < {first} + {BLOCK} "
        f"AND id = {record}.id;"
    )


def _drop_triggers() -> None:
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS summaries_fts_{name}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    _drop_triggers()
    op.execute("DROP TABLE summaries_fts")
    op.execute(
        f"CREATE VIRTUAL TABLE summaries_fts USING fts5(id UNINDEXED, {COLUMNS}, "
        "tokenize = 'unicode61 remove_diacritics 0')"
    )
    second = "CAST(strftime('%s', created_at) AS INTEGER)"
    op.execute(
        f"INSERT INTO summaries_fts (rowid, id, {COLUMNS}) "
        f"SELECT {second} * {BLOCK} + row_number() OVER (PARTITION BY {second} ORDER BY id) - 1, "
        f"id, {COLUMNS} FROM summaries"
    )
    op.execute(
        f"CREATE TRIGGER summaries_fts_insert AFTER INSERT ON summaries BEGIN {_insert('new')} END"
    )
    op.execute(
        f"CREATE TRIGGER summaries_fts_delete AFTER DELETE ON summaries BEGIN {_delete('old')} END"
    )
    op.execute(
        f"CREATE TRIGGER summaries_fts_update AFTER UPDATE OF id, created_at, {COLUMNS} "
        f"ON summaries BEGIN {_delete('old')} {_insert('new')} END"
    )


def downgrade() -> None:
    """The triggers of 0003 (the rowids stay: any order serves them)."""
    if op.get_bind().dialect.name == "postgresql":
        return
    _drop_triggers()
    new = ", ".join(f"new.{c}" for c in ["id", *COLUMNS.split(", ")])
    op.execute(
        "CREATE TRIGGER summaries_fts_insert AFTER INSERT ON summaries BEGIN "
        f"INSERT INTO summaries_fts (id, {COLUMNS}) VALUES ({new}); END"
    )
    op.execute(
        "CREATE TRIGGER summaries_fts_delete AFTER DELETE ON summaries BEGIN "
        "DELETE FROM summaries_fts WHERE id = old.id; END"
    )
    op.execute(
        f"CREATE TRIGGER summaries_fts_update AFTER UPDATE OF id, {COLUMNS} ON summaries BEGIN "
        "DELETE FROM summaries_fts WHERE id = old.id; "
        f"INSERT INTO summaries_fts (id, {COLUMNS}) VALUES ({new}); END"
    )
