"""Schema 0006: two indexes for a district's busiest reads at 10,000,000 records
(measured with `bench/town.py reads --proposed-indexes`, README "Running a district"):

- records_when_day: a day's records in id order, so that one day's entries page reads its
  ids from the index and stops at the page's end (it read the day's ~166,000 index entries
  and sorted them: p95 96–186 ms → 5.7 ms);
- records_alarm_when: alarms newest first, so that an alarm page stops at its end.

`IF NOT EXISTS`: `bench/town.py --proposed-indexes` (or an administrator) may have made them
already. The store uses each only when the database has it (`SqlTownStore._has_index`). Built inside
the upgrade's transaction: on a large database run `db upgrade` in a quiet hour with the
servers stopped (about 30 s per 10 million records on this machine).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ALARM = "kind = 'alarm' AND simulated = 0 AND quarantined = 0 AND purged = 0"
DAY = "(substr(coalesce(corrected_time, time), 1, 10))"
WHEN = "(coalesce(corrected_time, time))"
POSTGRESQL = (
    f"CREATE INDEX IF NOT EXISTS records_when_day ON records ({DAY}, id) "
    "INCLUDE (corrected_time, time) WHERE purged = 0",
    f"CREATE INDEX IF NOT EXISTS records_alarm_when ON records ({WHEN} DESC, id DESC) "
    f"INCLUDE (station, epoch, event_id) WHERE {ALARM}",
)
# SQLite has no INCLUDE: the columns a query reads go at the end of the key
SQLITE = (
    f"CREATE INDEX IF NOT EXISTS records_when_day ON records ({DAY}, id, corrected_time, "
    "time) WHERE purged = 0",
    f"CREATE INDEX IF NOT EXISTS records_alarm_when ON records ({WHEN} DESC, id DESC, "
    f"station, epoch, event_id) WHERE {ALARM}",
)


def upgrade() -> None:
    bind = op.get_bind()
    for statement in SQLITE if bind.dialect.name == "sqlite" else POSTGRESQL:
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    raise NotImplementedError("the town database is never downgraded; restore a backup")
