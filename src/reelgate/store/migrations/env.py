"""Alembic environment: the engine comes from the caller (`reelgate.store.db.upgrade`)."""

from __future__ import annotations

from alembic import context

from reelgate.store.schema import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
