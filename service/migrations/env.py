"""Alembic's entry point: runs the migrations on the connection ``service.migrations`` gives."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
# The caller's transaction holds the migration lock; this one joins it.
with context.begin_transaction():
    context.run_migrations()
