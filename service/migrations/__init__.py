"""The database schema's history, as Alembic migrations, for SQLite and PostgreSQL alike.

The configuration is built here in code (no ``alembic.ini``): the scripts live beside this
file, and the caller hands over an open connection, in a transaction that holds the lock
which keeps two processes from migrating at once (see ``service.store.Store.migrate``).

A database made before migrations existed has the first revision's tables and no
``alembic_version`` table: it is stamped with that revision, then upgraded in place.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

HERE = Path(__file__).resolve().parent
BASELINE = "0001"  # the schema as the releases before migrations made it


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    return ScriptDirectory(str(HERE)).get_current_head() or BASELINE


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to ``revision``; returns the revisions before and after."""
    config = _config(connection)
    before = current(connection)
    if before is None and inspect(connection).has_table("summaries"):
        command.stamp(config, BASELINE)
        before = BASELINE
    command.upgrade(config, revision)
    return before, current(connection)
