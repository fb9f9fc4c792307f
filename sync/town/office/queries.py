"""The town office console's reads: portable SQL, one function per question.

Every statement here is written once for SQLite and PostgreSQL: `:name` parameters passed as
a dict, no engine-specific functions (dates are computed in Python and passed in; JSON is
parsed in Python), `CASE WHEN … THEN 1 ELSE 0 END` instead of summing booleans, `COALESCE`,
`substr`, `LIKE`, `LIMIT :n`. They run only through the store's database object
(`db.query(sql, params)`), and rows are read by column name only.

Every read is bounded: a day range the caller limits (at most `MAX_RANGE_DAYS`), a row limit,
or both. Simulated, purged and quarantined records never count in compliance figures
(sync.md "Administration"); the record lists of a station show simulated ones, marked.

Failure modes: a database error propagates (the web layer answers it); nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

MAX_RANGE_DAYS = 31
COUNTED = "r.simulated = 0 AND r.purged = 0 AND r.quarantined = 0"
# records are stored as canonical JSON (sorted keys, no spaces: sync/town/records.py), so a
# field's exact value can be matched with LIKE on both engines without a JSON function
DIRECTION_IN = '%"direction":"in"%'
HAS_RETURNED = '%"returned":"%'
# one enterprise's records: by station id, so the (day, station) index narrows the scan
OF_ENTERPRISE = " AND r.station IN (SELECT id FROM stations WHERE enterprise = :enterprise)"


class Rows(Protocol):
    """The store's database object, as far as these reads need it."""

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
              ) -> Sequence[Any]: ...


def _dicts(rows: Iterable[Any], columns: Sequence[str]) -> list[dict[str, Any]]:
    return [{column: row[column] for column in columns} for row in rows]


def _days(first: dt.date, last: dt.date) -> dict[str, str]:
    return {"first": first.isoformat(), "last": last.isoformat()}


def enterprises(db: Rows) -> list[dict[str, Any]]:
    """Every enterprise with a registered station: its number of stations and of disabled
    ones."""
    return _dicts(db.query(
        "SELECT enterprise, COUNT(*) AS stations, "
        "SUM(CASE WHEN disabled IS NULL THEN 0 ELSE 1 END) AS disabled "
        "FROM stations GROUP BY enterprise ORDER BY enterprise", {}),
        ("enterprise", "stations", "disabled"))


STATION_COLUMNS = ("id", "enterprise", "created", "disabled", "last_heartbeat", "heartbeat")


def stations(db: Rows, enterprise: str | None = None) -> list[dict[str, Any]]:
    """Stations (of one enterprise, or all) with their last heartbeat as stored (JSON text)."""
    where = "WHERE enterprise = :enterprise " if enterprise is not None else ""
    return _dicts(db.query(
        "SELECT id, enterprise, created, disabled, last_heartbeat, heartbeat FROM stations "
        f"{where}ORDER BY enterprise, id", {"enterprise": enterprise}), STATION_COLUMNS)


def station(db: Rows, station_id: str) -> dict[str, Any] | None:
    rows = db.query("SELECT id, enterprise, created, disabled, last_heartbeat, heartbeat "
                    "FROM stations WHERE id = :id", {"id": station_id})
    return _dicts(rows, STATION_COLUMNS)[0] if rows else None


DAY_COLUMNS = ("enterprise", "day", "reporting", "people", "entries", "denied", "fevers",
               "faults", "vehicles", "visitors")


def enterprise_days(db: Rows, first: dt.date, last: dt.date,
                    enterprise: str | None = None) -> list[dict[str, Any]]:
    """Per enterprise and day: stations that sent records, people registered (distinct
    subjects with an entry), entries, denied entries, fever alarms, fault records, vehicles
    and visitors registered in."""
    where = OF_ENTERPRISE if enterprise is not None else ""
    return _dicts(db.query(
        f"""SELECT s.enterprise AS enterprise, r.day AS day,
                  COUNT(DISTINCT r.station) AS reporting,
                  COUNT(DISTINCT CASE WHEN r.kind = 'entry' THEN r.subject END) AS people,
                  SUM(CASE WHEN r.kind = 'entry' THEN 1 ELSE 0 END) AS entries,
                  SUM(CASE WHEN r.kind = 'entry' AND r.decision = 'deny' THEN 1 ELSE 0 END)
                    AS denied,
                  SUM(CASE WHEN r.kind = 'alarm' THEN 1 ELSE 0 END) AS fevers,
                  SUM(CASE WHEN r.kind = 'fault' THEN 1 ELSE 0 END) AS faults,
                  SUM(CASE WHEN r.kind = 'vehicle' AND r.raw LIKE :inward THEN 1 ELSE 0 END)
                    AS vehicles,
                  SUM(CASE WHEN r.kind = 'visitor' AND r.raw LIKE :inward THEN 1 ELSE 0 END)
                    AS visitors
           FROM records r JOIN stations s ON s.id = r.station
           WHERE r.day >= :first AND r.day <= :last AND {COUNTED}{where}
           GROUP BY s.enterprise, r.day ORDER BY s.enterprise, r.day""",
        {**_days(first, last), "inward": DIRECTION_IN, "enterprise": enterprise}),
        DAY_COLUMNS)


UNHANDLED = """NOT EXISTS (SELECT 1 FROM records a WHERE a.station = r.station
                  AND a.epoch = r.epoch AND a.kind = 'ack' AND a.ref_event_id = r.event_id
                  AND a.quarantined = 0 AND a.purged = 0)"""


def unhandled_alarms(db: Rows, first: dt.date, last: dt.date,
                     enterprise: str | None = None) -> list[dict[str, Any]]:
    """Per enterprise and day: fever alarms with no `ack` record (registration.md)."""
    where = OF_ENTERPRISE if enterprise is not None else ""
    return _dicts(db.query(
        f"""SELECT s.enterprise AS enterprise, r.day AS day, COUNT(*) AS n
           FROM records r JOIN stations s ON s.id = r.station
           WHERE r.kind = 'alarm' AND r.day >= :first AND r.day <= :last AND {COUNTED}
             AND {UNHANDLED}{where}
           GROUP BY s.enterprise, r.day""",
        {**_days(first, last), "enterprise": enterprise}), ("enterprise", "day", "n"))


def denial_reasons(db: Rows, first: dt.date, last: dt.date,
                   enterprise: str | None = None) -> list[dict[str, Any]]:
    """Per enterprise, day and reason list (the JSON text as stored): denied entries. The
    caller splits the lists into reasons (few distinct lists exist)."""
    where = OF_ENTERPRISE if enterprise is not None else ""
    return _dicts(db.query(
        f"""SELECT s.enterprise AS enterprise, r.day AS day, r.reasons AS reasons,
                  COUNT(*) AS n
           FROM records r JOIN stations s ON s.id = r.station
           WHERE r.kind = 'entry' AND r.decision = 'deny' AND r.day >= :first
             AND r.day <= :last AND {COUNTED}{where}
           GROUP BY s.enterprise, r.day, r.reasons""",
        {**_days(first, last), "enterprise": enterprise}),
        ("enterprise", "day", "reasons", "n"))


STATION_DAY_COLUMNS = ("station", "day", "records", "people", "entries", "denied", "fevers",
                       "faults", "late", "last_received")


def station_days(db: Rows, first: dt.date, last: dt.date, *, enterprise: str | None = None,
                 station_id: str | None = None) -> list[dict[str, Any]]:
    """Per station and day: records, people, entries, denied, fevers, fault records, records
    that reached the town on a later day than they happened (`late`: the station's backlog
    carried over), and when the last one arrived."""
    where = ""
    if enterprise is not None:
        where += OF_ENTERPRISE
    if station_id is not None:
        where += " AND r.station = :station"
    return _dicts(db.query(
        f"""SELECT r.station AS station, r.day AS day, COUNT(*) AS records,
                  COUNT(DISTINCT CASE WHEN r.kind = 'entry' THEN r.subject END) AS people,
                  SUM(CASE WHEN r.kind = 'entry' THEN 1 ELSE 0 END) AS entries,
                  SUM(CASE WHEN r.kind = 'entry' AND r.decision = 'deny' THEN 1 ELSE 0 END)
                    AS denied,
                  SUM(CASE WHEN r.kind = 'alarm' THEN 1 ELSE 0 END) AS fevers,
                  SUM(CASE WHEN r.kind = 'fault' THEN 1 ELSE 0 END) AS faults,
                  SUM(CASE WHEN substr(r.received, 1, 10) > r.day THEN 1 ELSE 0 END) AS late,
                  MAX(r.received) AS last_received
           FROM records r JOIN stations s ON s.id = r.station
           WHERE r.day >= :first AND r.day <= :last AND {COUNTED}{where}
           GROUP BY r.station, r.day ORDER BY r.station, r.day""",
        {**_days(first, last), "enterprise": enterprise, "station": station_id}),
        STATION_DAY_COLUMNS)


def fault_devices(db: Rows, first: dt.date, last: dt.date, station_id: str
                  ) -> list[dict[str, Any]]:
    """Fault records (faults and recoveries) of one station per day and device."""
    return _dicts(db.query(
        f"""SELECT r.day AS day, r.device AS device, COUNT(*) AS n FROM records r
           WHERE r.station = :station AND r.kind = 'fault' AND r.day >= :first
             AND r.day <= :last AND {COUNTED}
           GROUP BY r.day, r.device ORDER BY r.day, r.device""",
        {**_days(first, last), "station": station_id}), ("day", "device", "n"))


RECORD_COLUMNS = ("id", "station", "enterprise", "epoch", "seq", "kind", "time",
                  "corrected_time", "day", "subject", "name", "color", "decision", "reasons",
                  "temperature_c", "device", "simulated", "received", "raw")
_RECORD_SELECT = ("SELECT r.id AS id, r.station AS station, s.enterprise AS enterprise, "
                  "r.epoch AS epoch, r.seq AS seq, r.kind AS kind, r.time AS time, "
                  "r.corrected_time AS corrected_time, r.day AS day, r.subject AS subject, "
                  "r.name AS name, r.color AS color, r.decision AS decision, "
                  "r.reasons AS reasons, r.temperature_c AS temperature_c, "
                  "r.device AS device, r.simulated AS simulated, r.received AS received, "
                  "r.raw AS raw FROM records r JOIN stations s ON s.id = r.station ")


def station_records(db: Rows, station_id: str, day: dt.date, *, after: int = 0,
                    limit: int = 200) -> list[dict[str, Any]]:
    """One station's records of one day in arrival order, `limit` after the cursor `after`
    (a record id); simulated ones included (the page marks them)."""
    return _dicts(db.query(
        _RECORD_SELECT + "WHERE r.station = :station AND r.day = :day AND r.purged = 0 "
        "AND r.quarantined = 0 AND r.id > :after ORDER BY r.id LIMIT :n",
        {"station": station_id, "day": day.isoformat(), "after": after, "n": limit}),
        RECORD_COLUMNS)


def subject_trace(db: Rows, subject: str, first: dt.date, last: dt.date, *,
                  limit: int = 5000) -> list[dict[str, Any]]:
    """Every counted record of one worker id at any station from `first` to `last`, in the
    order they happened (contact tracing); at most `limit`."""
    return _dicts(db.query(
        _RECORD_SELECT + f"WHERE r.subject = :subject AND r.day >= :first AND r.day <= :last "
        f"AND {COUNTED} ORDER BY COALESCE(r.corrected_time, r.time), r.id LIMIT :n",
        {**_days(first, last), "subject": subject, "n": limit}), RECORD_COLUMNS)


def near(db: Rows, station_id: str, day: str, lo: str, hi: str, subject: str, *,
         limit: int = 200) -> list[dict[str, Any]]:
    """Other workers' counted records at one station on one day between `lo` and `hi` (ISO
    times as the station writes them, CST): who was at the same gate at the same time."""
    return _dicts(db.query(
        f"""SELECT r.subject AS subject, r.name AS name, r.kind AS kind,
                  COALESCE(r.corrected_time, r.time) AS at, r.station AS station,
                  s.enterprise AS enterprise
           FROM records r JOIN stations s ON s.id = r.station
           WHERE r.station = :station AND r.day = :day AND r.subject IS NOT NULL
             AND r.subject <> :subject AND COALESCE(r.corrected_time, r.time) >= :lo
             AND COALESCE(r.corrected_time, r.time) <= :hi AND {COUNTED}
           ORDER BY COALESCE(r.corrected_time, r.time), r.id LIMIT :n""",
        {"station": station_id, "day": day, "lo": lo, "hi": hi, "subject": subject,
         "n": limit}), ("subject", "name", "kind", "at", "station", "enterprise"))


def returning_entries(db: Rows, first: dt.date, last: dt.date, *, limit: int = 50000
                      ) -> list[dict[str, Any]]:
    """Entries from `first` to `last` whose code carries a return date (`returned`): the raw
    record (the caller reads `returned`, `origin`, `nat`), where and when; at most `limit`."""
    return _dicts(db.query(
        f"""SELECT r.id AS id, r.subject AS subject, r.name AS name, r.raw AS raw,
                  COALESCE(r.corrected_time, r.time) AS at, r.station AS station,
                  s.enterprise AS enterprise
           FROM records r JOIN stations s ON s.id = r.station
           WHERE r.kind = 'entry' AND r.day >= :first AND r.day <= :last
             AND r.subject IS NOT NULL AND r.raw LIKE :returned AND {COUNTED}
           ORDER BY r.id LIMIT :n""",
        {**_days(first, last), "returned": HAS_RETURNED, "n": limit}),
        ("id", "subject", "name", "raw", "at", "station", "enterprise"))


def revocations(db: Rows) -> list[dict[str, Any]]:
    return _dicts(db.query("SELECT sub, before FROM revocations ORDER BY sub", {}),
                  ("sub", "before"))


def audit(db: Rows, *, offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """The audit table, newest first (who did what, when)."""
    return _dicts(db.query("SELECT id, at, who, action, detail FROM audit ORDER BY id DESC "
                           "LIMIT :n OFFSET :offset", {"n": limit, "offset": offset}),
                  ("id", "at", "who", "action", "detail"))


def bundle_state(db: Rows) -> dict[str, Any] | None:
    rows = db.query("SELECT generation, changed, serial, bundle_keys FROM bundle_state "
                    "WHERE id = 1", {})
    return _dicts(rows, ("generation", "changed", "serial", "bundle_keys"))[0] if rows else None


def bundles(db: Rows, *, limit: int = 20) -> list[dict[str, Any]]:
    """The signed bundles, newest first."""
    return _dicts(db.query("SELECT serial, generation, kid, issued_at, expires, created, how "
                           "FROM bundles ORDER BY serial DESC LIMIT :n", {"n": limit}),
                  ("serial", "generation", "kid", "issued_at", "expires", "created", "how"))


def epochs(db: Rows, station_id: str) -> list[dict[str, Any]]:
    return _dicts(db.query("SELECT epoch, acked_through, first_seen FROM epochs "
                           "WHERE station = :station ORDER BY first_seen", {"station": station_id}),
                  ("epoch", "acked_through", "first_seen"))


HEARTBEAT_COLUMNS = ("station", "slot", "day", "first_at", "last_at", "beats", "backlog_max",
                     "backlog_last", "faults")


def heartbeat_slots(db: Rows, first: dt.date, last: dt.date, station_id: str | None = None,
                    columns: Sequence[str] = HEARTBEAT_COLUMNS) -> list[dict[str, Any]]:
    """The health history (schema 5): each station's 10-minute slots of heartbeats on the
    days `first`…`last` (by the server's clock), in time order per station; one station's
    with `station_id`; only `columns` (some of HEARTBEAT_COLUMNS) when a page needs fewer.
    At most 144 rows per station and day."""
    chosen = [c for c in HEARTBEAT_COLUMNS if c in columns]
    where = " AND station = :station" if station_id is not None else ""
    return _dicts(db.query(
        f"SELECT {', '.join(chosen)} FROM heartbeats WHERE day >= :first "
        f"AND day <= :last{where} ORDER BY station, slot",
        {**_days(first, last), "station": station_id}), chosen)
