"""Schema 3: indexes for a district's reads — a subject's trace across stations (contact
tracing, the town office console) and records by corrected time.

Built inside the upgrade's transaction: on a large PostgreSQL database, `db upgrade` holds
writes back while they build (minutes for tens of millions of records); run it in a quiet
hour, servers stopped.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCRIPT = """
CREATE INDEX records_subject ON records (subject, day) WHERE subject IS NOT NULL;
"""


def upgrade() -> None:
    from sync.town.migrations import statements

    for statement in statements(SCRIPT):
        op.get_bind().exec_driver_sql(statement)


def downgrade() -> None:
    raise NotImplementedError("the town database is never downgraded; restore a backup")
