"""Schema 4: indexes for a district's date windows and alarm list, each enough alone to
answer its part of a query (no visit to the table's rows):

- records_when: records by corrected time (the read API's `since`/`until`, the town office's
  date picker), so that the ids of one day's page come from the index;
- records_alarm: the alarms a list may show, with what it sorts them by;
- records_acked: the acks that count, by the alarm they handle;
- records_day_kind: a day's records by kind and station, for the day's figures.

PostgreSQL reads an index without the table only when the index holds every column the
query uses (INCLUDE, and for an expression its columns too); SQLite has no INCLUDE and
needs the columns in the key.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ALARM = "kind = 'alarm' AND simulated = 0 AND quarantined = 0 AND purged = 0"
ACK = "kind = 'ack' AND quarantined = 0 AND purged = 0"
COUNTED = "simulated = 0 AND purged = 0 AND quarantined = 0"
POSTGRESQL = (
    "CREATE INDEX records_when ON records ((coalesce(corrected_time, time)), id) "
    "INCLUDE (corrected_time, time) WHERE purged = 0",
    "CREATE INDEX records_alarm ON records (station, epoch, event_id) "
    f"INCLUDE (id, corrected_time, time) WHERE {ALARM}",
    f"CREATE INDEX records_acked ON records (station, epoch, ref_event_id) WHERE {ACK}",
    f"CREATE INDEX records_day_kind ON records (day, kind, station, decision) WHERE {COUNTED}",
)
SQLITE = (
    "CREATE INDEX records_when ON records ((coalesce(corrected_time, time)), id) "
    "WHERE purged = 0",
    "CREATE INDEX records_alarm ON records (station, epoch, event_id, id, corrected_time, "
    f"time) WHERE {ALARM}",
    f"CREATE INDEX records_acked ON records (station, epoch, ref_event_id) WHERE {ACK}",
    f"CREATE INDEX records_day_kind ON records (day, kind, station, decision) WHERE {COUNTED}",
)


def upgrade() -> None:
    bind = op.get_bind()
    for statement in SQLITE if bind.dialect.name == "sqlite" else POSTGRESQL:
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    raise NotImplementedError("the town database is never downgraded; restore a backup")
