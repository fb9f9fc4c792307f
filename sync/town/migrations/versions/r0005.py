"""Schema 5: station health history, `heartbeats`.

`stations.heartbeat` holds only a station's last heartbeat. A station beats about once a
minute (1,440 beats a day), so the history is kept as one row per station per 10-minute
slot of the server's clock (at most 144 rows a day; 72,000 a day for a district of 500
stations): the slot's first and last beat (silent periods are the gaps between one beat and
the next, to the second), how many beats, the largest and the last backlog, and every device
any beat of the slot named as faulty (a JSON list). Rows go with the records of their day
(`purge`, `retention_days`).

- heartbeats_day: a day's slots of every station (the health page, the purge).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

STATEMENTS = (
    "CREATE TABLE heartbeats ("
    " station TEXT NOT NULL, slot TEXT NOT NULL, day TEXT NOT NULL,"
    " first_at TEXT NOT NULL, last_at TEXT NOT NULL, beats INTEGER NOT NULL,"
    " backlog_max BIGINT NOT NULL, backlog_last BIGINT NOT NULL, faults TEXT NOT NULL,"
    " PRIMARY KEY (station, slot))",
    "CREATE INDEX heartbeats_day ON heartbeats (day, station)",
)


def upgrade() -> None:
    bind = op.get_bind()
    for statement in STATEMENTS:
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    raise NotImplementedError("the town database is never downgraded; restore a backup")
