"""Schema 7: `records_when` (schema 4) goes; `records_when_day` (schema 6) serves its reads.

Both indexes held every unpurged record by its corrected time. `records_when_day` keys it by
the corrected time's date, then id, and carries the corrected and station times (in the key
on SQLite, INCLUDE on PostgreSQL), so a time window's ids come from it alone:
`store.entries` adds to a window's `coalesce(corrected_time, time) >= since` (`< until`) the
condition its date implies (`substr(…, 1, 10) >= since[:10]`, `<= until[:10]`: true of
every text, see `store._date_bounds`), a range of `records_when_day`. `records_when`
was the dearest index of the ingest (a record of each of 50 stations pushing at once lands
anywhere in it by time: about 3 µs of CPU a record of `store.ingest`'s 29, measured), and
1.0 GiB at 10,000,000 records on PostgreSQL.

The downgrade makes `records_when` again as schema 4 did and, on SQLite, sets the file's
user_version back to 6 (inside the transaction: on a large database, minutes with the
servers stopped).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# schema 4's definitions (r0004), for the downgrade
POSTGRESQL = ("CREATE INDEX records_when ON records ((coalesce(corrected_time, time)), id) "
              "INCLUDE (corrected_time, time) WHERE purged = 0")
SQLITE = ("CREATE INDEX records_when ON records ((coalesce(corrected_time, time)), id) "
          "WHERE purged = 0")


def upgrade() -> None:
    # IF EXISTS: an administrator may have dropped it already (the store never names it)
    op.get_bind().exec_driver_sql("DROP INDEX IF EXISTS records_when")


def downgrade() -> None:
    bind = op.get_bind()
    bind.exec_driver_sql(SQLITE if bind.dialect.name == "sqlite" else POSTGRESQL)
    if bind.dialect.name == "sqlite":  # what older town-servers read (sync/town/db.py)
        bind.exec_driver_sql("PRAGMA user_version = 6")
