"""Alembic's environment: always online, on the connection sync/town/db.py passes in
`config.attributes["connection"]`, inside the transaction that caller opened (the whole
upgrade commits or rolls back as one)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
