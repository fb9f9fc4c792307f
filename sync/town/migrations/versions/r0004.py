"""Schema 4: records by corrected time (the read API's `since`/`until`, the town office's
date picker): the ids of one day's page come from this index alone. PostgreSQL reads an
expression index without the table only when the index holds the expression's columns too
(INCLUDE); SQLite needs no such help (and has no INCLUDE).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "CREATE INDEX records_when ON records ((coalesce(corrected_time, time)), id)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.get_bind().exec_driver_sql(f"{INDEX} WHERE purged = 0")
    else:
        op.get_bind().exec_driver_sql(f"{INDEX} INCLUDE (corrected_time, time) "
                                      "WHERE purged = 0")


def downgrade() -> None:
    raise NotImplementedError("the town database is never downgraded; restore a backup")
