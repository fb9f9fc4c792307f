"""The station's ledger: every decision, fault and alarm, durably, in order.

SQLite through the project's one helper (`station.sqlite`: WAL journal with
`synchronous=FULL`, so a commit survives power loss once `append` returns if the card honours
flushes; a busy timeout; the file created 0600 and its directory fsynced); the schema versioned
with `PRAGMA user_version` and applied by migrations in order, each in one transaction.

Every SQL statement on the ledger file is in this module: writers use `append`,
`mark_synced_seqs`, `purge_synced`; readers use the named read methods below (backlog, open
faults, a day's register, statistics …), so the schema can change in one place.

Identity (sync.md): the ledger has an `epoch` (a UUID made when the file is created) and each
record a `seq` (INTEGER PRIMARY KEY AUTOINCREMENT: 1, 2, 3 … never reused, even after purges).

Readers (`Ledger.open_readonly`) use a read-only connection: in WAL mode they never block
the daemon's writes, and they cannot change anything.

A ledger written by `gate-station simulate` carries `simulated` in its meta table, set in
the transaction that creates the file (`Ledger(path, simulated=True)`): its records are made
up, so the sync client refuses to push it (sync.md, Administration) and simulate refuses to
write into any ledger without the mark.

Failure modes: any SQLite or OS error while writing raises LedgerError; the caller (the gate)
must then admit nobody. A file that is not a ledger, or is newer than this code, raises
LedgerError naming the file.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from station import sqlite
from station.clock import CST, Clock
from station.errors import StationError

Kind = Literal["entry", "exit", "fault", "alarm", "vehicle", "visitor", "ack"]
KINDS: tuple[str, ...] = ("entry", "exit", "fault", "alarm", "vehicle", "visitor", "ack")
T = TypeVar("T")
# A fault record whose `detail` starts with this word ends its device's fault (the ledger's
# own outage record adds what happened meanwhile after a semicolon).
RECOVERED = "recovered"

# The fields of registration.md's records (vehicle, visitor, ack), which the gate's own
# records leave null. Booleans are stored as 0/1.
REGISTRATION_COLUMNS: dict[str, str] = {
    "operator": "TEXT", "plate": "TEXT", "plate_other": "INTEGER", "vehicle_type": "TEXT",
    "carrier": "TEXT", "driver_name": "TEXT", "driver_phone": "TEXT", "code_checked": "TEXT",
    "occupants": "INTEGER", "via_risk_area": "INTEGER", "cargo": "TEXT",
    "cold_chain": "INTEGER", "disinfected": "INTEGER", "disinfection_method": "TEXT",
    "disinfection_operator": "TEXT", "host": "TEXT", "visit_id": "TEXT", "phone": "TEXT",
    "id_last4": "TEXT", "organisation": "TEXT", "purpose": "TEXT", "vehicle_id": "TEXT",
    "ref_event_id": "TEXT", "action": "TEXT", "remeasure_c": "REAL", "note": "TEXT",
}
BOOL_COLUMNS = frozenset({"plate_other", "via_risk_area", "cold_chain", "disinfected"})


def _records_table(name: str) -> str:
    """The records table as of schema 4: the seven kinds, the registration fields."""
    kinds = ", ".join(f"'{kind}'" for kind in KINDS)
    extra = ",\n        ".join(f"{column} {kind}" for column, kind in REGISTRATION_COLUMNS.items())
    return f"""CREATE TABLE {name} (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ({kinds})),
        time TEXT NOT NULL,
        day TEXT NOT NULL,
        clock_synced INTEGER NOT NULL,
        boot_id TEXT,
        boottime_ns INTEGER,
        direction TEXT,
        subject TEXT,
        name TEXT,
        issuer TEXT,
        org TEXT,
        color TEXT,
        nat TEXT,
        returned TEXT,
        origin TEXT,
        temperature_c REAL,
        ambient_c REAL,
        readings TEXT NOT NULL DEFAULT '[]',
        decision TEXT,
        reasons TEXT NOT NULL DEFAULT '[]',
        detail TEXT,
        synced INTEGER NOT NULL DEFAULT 0,
        device TEXT,
        {extra}
    )"""


_INDEXES_4 = """
    CREATE INDEX records_day ON records (day, kind);
    CREATE INDEX records_subject ON records (subject, day);
    CREATE INDEX records_returned ON records (returned) WHERE returned IS NOT NULL;
    CREATE INDEX records_unsynced ON records (seq) WHERE synced = 0;
    CREATE INDEX records_unsynced_alarms ON records (seq) WHERE synced = 0 AND kind = 'alarm';
    CREATE INDEX records_faults ON records (device, seq) WHERE kind = 'fault';
    CREATE INDEX records_visits ON records (visit_id) WHERE visit_id IS NOT NULL;
    CREATE INDEX records_acks ON records (ref_event_id) WHERE ref_event_id IS NOT NULL;
"""


def _registration_kinds(conn: sqlite3.Connection) -> None:
    """Schema 4: the kinds `vehicle`, `visitor`, `ack` and their fields (registration.md).

    SQLite cannot change a CHECK constraint in place, so the table is rebuilt (SQLite's
    documented 12-step procedure, inside the migration's transaction). The AUTOINCREMENT
    high-water mark is carried over by hand: a seq must never be reused, even one whose
    record was purged.
    """
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
    high_water = int(row[0]) if row else 0
    old_columns = [r[1] for r in conn.execute("PRAGMA table_info(records)")]
    conn.execute(_records_table("records_v4"))
    listed = ", ".join(old_columns)
    conn.execute(f"INSERT INTO records_v4 ({listed}) SELECT {listed} FROM records")
    conn.execute("DROP TABLE records")
    conn.execute("ALTER TABLE records_v4 RENAME TO records")
    sqlite.run_script(conn, _INDEXES_4)
    conn.execute("DELETE FROM sqlite_sequence WHERE name IN ('records', 'records_v4')")
    current = conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0]
    conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('records', ?)",
                 (max(high_water, int(current)),))


Migration = str | Callable[[sqlite3.Connection], None]

MIGRATIONS: tuple[Migration, ...] = (
    # 1: the records table and its indexes
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('entry', 'exit', 'fault', 'alarm')),
        time TEXT NOT NULL,
        day TEXT NOT NULL,
        clock_synced INTEGER NOT NULL,
        boot_id TEXT,
        boottime_ns INTEGER,
        direction TEXT,
        subject TEXT,
        name TEXT,
        issuer TEXT,
        org TEXT,
        color TEXT,
        nat TEXT,
        returned TEXT,
        origin TEXT,
        temperature_c REAL,
        ambient_c REAL,
        readings TEXT NOT NULL DEFAULT '[]',
        decision TEXT,
        reasons TEXT NOT NULL DEFAULT '[]',
        detail TEXT,
        synced INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX records_day ON records (day, kind);
    CREATE INDEX records_subject ON records (subject, day);
    CREATE INDEX records_returned ON records (returned) WHERE returned IS NOT NULL;
    CREATE INDEX records_unsynced ON records (seq) WHERE synced = 0;
    """,
    # 2: pending alarms, which the sync client sends before everything else
    """
    CREATE INDEX records_unsynced_alarms ON records (seq) WHERE synced = 0 AND kind = 'alarm';
    """,
    # 3: a fault record names its device in a column of its own (sync.md `device`), no
    # longer as the first word of `detail` ("thermometer: …")
    """
    ALTER TABLE records ADD COLUMN device TEXT;
    UPDATE records SET device = substr(detail, 1, instr(detail, ':') - 1),
                       detail = ltrim(substr(detail, instr(detail, ':') + 1))
     WHERE kind = 'fault' AND instr(detail, ':') > 1;
    CREATE INDEX records_faults ON records (device, seq) WHERE kind = 'fault';
    """,
    # 4: registration.md's kinds and fields
    _registration_kinds,
    # 5: the console's reason search: only records with a reason (a few in a hundred), by
    # day, covering `reasons` so the search and its count never read the table
    """
    CREATE INDEX records_reasoned ON records (day, reasons) WHERE reasons <> '[]';
    """,
    # 6: fever alarms by seq (about one record in a hundred), so that the unhandled ones the
    # gate page, the kiosk and the alarms page count on every view are found without
    # reading the table
    """
    CREATE INDEX records_alarms ON records (seq) WHERE kind = 'alarm';
    """,
)


_COLUMNS = (
    "event_id", "kind", "time", "day", "clock_synced", "boot_id", "boottime_ns", "direction",
    "subject", "name", "issuer", "org", "color", "nat", "returned", "origin", "temperature_c",
    "ambient_c", "readings", "decision", "reasons", "detail", "device", *REGISTRATION_COLUMNS,
)
_INSERT_SQL = (f"INSERT INTO records ({', '.join(_COLUMNS)}) "
              f"VALUES ({', '.join(':' + c for c in _COLUMNS)})")



class DecidedEntry(NamedTuple):
    """An entry as the policy saw it and what it decided (`Ledger.decided_entries_on`); the
    names are Record's, so code that reads these fields takes either."""

    seq: int
    time: str
    subject: str | None
    name: str | None
    issuer: str | None
    org: str | None
    color: str | None
    nat: str | None
    returned: str | None
    origin: str | None
    temperature_c: float | None
    decision: str | None
    reasons: tuple[str, ...]

class LedgerError(StationError):
    """The ledger could not be opened, read or written."""


@dataclass(frozen=True)
class Record:
    """One ledger record, as sync.md describes it. `seq` is None until appended."""

    kind: Kind
    time: str
    day: str
    clock_synced: bool
    boot_id: str | None = None
    boottime_ns: int | None = None
    direction: str | None = None
    subject: str | None = None
    name: str | None = None
    issuer: str | None = None
    org: str | None = None
    color: str | None = None
    nat: str | None = None
    returned: str | None = None
    origin: str | None = None
    temperature_c: float | None = None
    ambient_c: float | None = None
    readings: tuple[float, ...] = ()
    decision: str | None = None
    reasons: tuple[str, ...] = ()
    detail: str | None = None
    device: str | None = None  # a fault record's device (sync.md): thermometer, camera, …
    # registration.md (vehicle, visitor, ack); null on the gate's own records
    operator: str | None = None
    plate: str | None = None
    plate_other: bool | None = None
    vehicle_type: str | None = None
    carrier: str | None = None
    driver_name: str | None = None
    driver_phone: str | None = None
    code_checked: str | None = None
    occupants: int | None = None
    via_risk_area: bool | None = None
    cargo: str | None = None
    cold_chain: bool | None = None
    disinfected: bool | None = None
    disinfection_method: str | None = None
    disinfection_operator: str | None = None
    host: str | None = None
    visit_id: str | None = None
    phone: str | None = None
    id_last4: str | None = None
    organisation: str | None = None
    purpose: str | None = None
    vehicle_id: str | None = None
    ref_event_id: str | None = None
    action: str | None = None
    remeasure_c: float | None = None
    note: str | None = None
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    seq: int | None = None

    @classmethod
    def stamped(cls, clock: Clock, kind: Kind, **fields: Any) -> Record:
        """A new record of `kind` at the clock's current time: CST wall time and day, whether
        the clock was synchronized, boot id and time since boot (sync.md)."""
        now = clock.now().astimezone(CST)
        return cls(kind=kind, time=now.isoformat(timespec="milliseconds"),
                   day=now.date().isoformat(), clock_synced=clock.synced(),
                   boot_id=clock.boot_id, boottime_ns=clock.boottime_ns(), **fields)

    def fields_dict(self) -> dict[str, Any]:
        """Every field by name, in declaration order. A shallow copy is enough (and ~20×
        faster than `asdict`'s deep copy): every value is immutable, tuples included."""
        return {name: getattr(self, name) for name in RECORD_FIELDS}

    def to_row(self) -> dict[str, Any]:
        row = self.fields_dict()
        row.pop("seq")
        row["readings"] = json.dumps(list(self.readings))
        row["reasons"] = json.dumps(list(self.reasons))
        row["clock_synced"] = int(self.clock_synced)
        for column in BOOL_COLUMNS:
            if row[column] is not None:
                row[column] = int(row[column])
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Record:
        known = RECORD_FIELD_SET  # once, not `fields()` per row (a third of reading a day)
        values = {k: v for k, v in row.items() if k in known}
        # most records have no reasons and one reading: skip the JSON parser for "[]"
        readings, reasons = row.get("readings") or "[]", row.get("reasons") or "[]"
        values["readings"] = () if readings == "[]" else tuple(json.loads(readings))
        values["reasons"] = () if reasons == "[]" else tuple(json.loads(reasons))
        values["clock_synced"] = bool(row.get("clock_synced"))
        for column in BOOL_COLUMNS:
            if values.get(column) is not None:
                values[column] = bool(values[column])
        if len(values) == len(known) and "__post_init__" not in cls.__dict__:
            # A whole row (SELECT *) names every field: fill the instance directly, as the
            # frozen dataclass's __init__ would, without its per-field object.__setattr__
            # (half the time of reading a day's 3,000 entries).
            record = object.__new__(cls)
            record.__dict__.update(values)
            return record
        return cls(**values)

    @staticmethod
    def json_from_row(row: dict[str, Any]) -> dict[str, Any]:
        """`Record.from_row(row).to_json()` without building the Record (the sync client's
        drain reads 100,000s of rows; the frozen dataclass costs most of that)."""
        data = {name: row.get(name, DEFAULTS.get(name)) for name in RECORD_FIELDS}
        data["readings"] = json.loads(row.get("readings") or "[]")
        data["reasons"] = json.loads(row.get("reasons") or "[]")
        data["clock_synced"] = bool(row.get("clock_synced"))
        for column in BOOL_COLUMNS:
            if data[column] is not None:
                data[column] = bool(data[column])
        for column in REGISTRATION_COLUMNS:
            if data[column] is None:
                del data[column]
        return data

    def to_json(self) -> dict[str, Any]:
        """The record as sync.md and scenario.md show it (lists, booleans, nulls). The
        registration fields appear only on the records that have them, so a worker's entry
        stays as small as it was."""
        data = self.fields_dict()
        data["readings"] = list(self.readings)
        data["reasons"] = list(self.reasons)
        for column in REGISTRATION_COLUMNS:
            if data[column] is None:
                del data[column]
        return data


RECORD_FIELDS = tuple(f.name for f in fields(Record))
RECORD_FIELD_SET = frozenset(RECORD_FIELDS)
DEFAULTS = {f.name: f.default for f in fields(Record) if f.default is not MISSING}


class Ledger:
    """The ledger file. Open with `Ledger(path)` to write, `Ledger.open_readonly` to read."""

    def __init__(self, path: str | Path, *, readonly: bool = False,
                 simulated: bool = False) -> None:
        """Open (a writer creates it if missing) the ledger at `path`. With `simulated`, a new
        file is marked as a simulation's, and an existing file without the mark is refused
        (LedgerError): a simulation never writes into a real ledger."""
        self.path = Path(path)
        self.readonly = readonly
        self._creating_simulated = simulated
        try:
            self._conn = sqlite.connect(self.path, readonly=readonly)
            if readonly:
                self._check_schema(self._conn, new_file_allowed=False)
            else:
                self._migrate()
            self.epoch = self._meta("epoch")
            self.is_simulated = self._optional_meta("simulated") is not None
        except (sqlite3.Error, OSError) as error:  # the OS's reason without the path again
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise LedgerError(key="ledger.cannot_open", path=self.path, error=str(reason)
                              ) from None
        if simulated and not self.is_simulated:
            self._conn.close()
            raise LedgerError(key="ledger.not_simulated", path=self.path)

    @classmethod
    def open_readonly(cls, path: str | Path) -> Ledger:
        if not Path(path).exists():
            raise LedgerError(key="ledger.missing", path=path)
        return cls(path, readonly=True)

    def _check_schema(self, conn: sqlite3.Connection, *, new_file_allowed: bool) -> int:
        """The file's schema version; LedgerError if it is another kind of database or a
        ledger newer than this program. An empty file is version 0 (writers create it)."""
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise LedgerError(key="ledger.too_new", path=self.path, version=version)
        if version == 0 and (not new_file_allowed or conn.execute(
                "SELECT count(*) FROM sqlite_master").fetchone()[0]):
            raise LedgerError(key="ledger.not_ledger", path=self.path)
        return version

    def _migrate(self) -> None:
        version = self._check_schema(self._conn, new_file_allowed=True)
        for number in range(version, len(MIGRATIONS)):
            migration = MIGRATIONS[number]
            with sqlite.transaction(self._conn) as conn:
                if callable(migration):
                    migration(conn)
                else:
                    sqlite.run_script(conn, migration)
                if number == 0:
                    created = dt.datetime.now(dt.UTC).isoformat()
                    conn.execute("INSERT INTO meta VALUES ('epoch', ?), ('created', ?)",
                                 (str(uuid.uuid4()), created))
                    if self._creating_simulated:  # in the creating transaction: no unmarked
                        conn.execute(             # moment for a kill -9 to leave behind
                            "INSERT INTO meta VALUES ('simulated', ?)", (created,))
                conn.execute(f"PRAGMA user_version = {number + 1}")

    def _meta(self, key: str) -> str:
        value = self._optional_meta(key)
        if value is None:
            raise LedgerError(f"{self.path}: ledger has no {key}")
        return value

    def _optional_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def mark_simulated(self) -> None:
        """Mark this ledger as made by a simulation (its records are not real people); the
        mark is never removed. Idempotent."""
        self._transaction(lambda conn: conn.execute(
            "INSERT OR IGNORE INTO meta VALUES ('simulated', ?)",
            (dt.datetime.now(dt.UTC).isoformat(),)))
        self.is_simulated = True

    # -- writing ----------------------------------------------------------------------------

    def append(self, *records: Record) -> list[Record]:
        """Commit `records` in one transaction; return them with their seq. LedgerError on
        any failure, in which case nothing was written."""
        # One explicit transaction: sqlite-utils' insert() commits as it goes, which would
        # split an entry and its alarm.
        written: list[Record] = []

        def insert(conn: sqlite3.Connection) -> None:
            for record in records:
                cursor = conn.execute(_INSERT_SQL, record.to_row())
                written.append(Record(**{**record.fields_dict(), "seq": cursor.lastrowid}))

        self._transaction(insert)
        return written

    def mark_synced(self, seqs: Sequence[int], through_seq: int) -> int:
        """Mark the records `seqs` (those a push sent) that are ≤ `through_seq` (what the
        town acked) as received by the town; how many changed. Never a seq that was not sent.
        """
        chosen = [int(seq) for seq in seqs if int(seq) <= through_seq]

        def mark(conn: sqlite3.Connection) -> int:
            changed = 0
            for start in range(0, len(chosen), 500):
                chunk = chosen[start:start + 500]
                changed += conn.execute(
                    f"UPDATE records SET synced = 1 WHERE synced = 0 AND seq IN "
                    f"({', '.join('?' * len(chunk))})", chunk).rowcount
            return changed

        return self._transaction(mark)

    def purge_synced(self, before_day: dt.date) -> int:
        """Delete records the town has, from days before `before_day`. Unsynced records are
        never deleted, whatever their age. Returns how many were deleted."""
        return self._transaction(lambda conn: conn.execute(
            "DELETE FROM records WHERE synced = 1 AND day < ?",
            (before_day.isoformat(),)).rowcount)

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in one immediate write transaction; LedgerError (nothing written) on any
        SQLite or OS error."""
        if self.readonly:
            raise LedgerError(key="ledger.read_only", path=self.path)
        try:
            with sqlite.transaction(self._conn) as conn:
                return work(conn)
        except (sqlite3.Error, OSError) as error:
            raise LedgerError(key="ledger.cannot_write", path=self.path, error=str(error)) from None

    # -- reading ----------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
              ) -> list[dict[str, Any]]:
        """All rows of a query. Materialized on purpose: a half-read cursor would hold a
        read transaction open and pin this connection to an old snapshot of the WAL."""
        try:
            cursor = self._conn.execute(sql, params)
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except sqlite3.Error as error:
            raise LedgerError(key="ledger.cannot_read", path=self.path, error=str(error)) from None

    def _records(self, where: str = "1", params: Sequence[Any] = (), *, order: str = "seq",
                limit: int | None = None, page: int = 2000) -> Iterator[Record]:
        """Matching records; in seq order they are read a page at a time, so a whole-ledger
        export does not hold the ledger in memory."""
        if order != "seq":
            sql = f"SELECT * FROM records WHERE {where} ORDER BY {order}"
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            for row in self._query(sql, params):
                yield Record.from_row(row)
            return
        after, left = 0, limit
        while left is None or left > 0:
            size = page if left is None else min(page, left)
            rows = self._query(f"SELECT * FROM records WHERE ({where}) AND seq > ? "
                              f"ORDER BY seq LIMIT {size}", [*params, after])
            for row in rows:
                yield Record.from_row(row)
            if len(rows) < size:
                return
            after = rows[-1]["seq"]
            if left is not None:
                left -= len(rows)

    def clock_floor(self) -> dt.datetime | None:
        """The time of the newest record written with a synchronized clock (the clock floor
        of health-code.md), or None when there is none."""
        rows = self._query("SELECT time FROM records WHERE clock_synced = 1 "
                           "ORDER BY seq DESC LIMIT 1")
        return dt.datetime.fromisoformat(rows[0]["time"]) if rows else None

    def highest_seq(self) -> int:
        """The highest seq this ledger ever issued (purged records included), 0 if none."""
        rows = self._query("SELECT seq FROM sqlite_sequence WHERE name = 'records'")
        return int(rows[0]["seq"]) if rows else 0

    # -- console reads ------------------------------------------------------------------------
    # Named read-only queries for the station console (station/console/). Each is one query on
    # the indexes above (day, subject, returned, unsynced); the console opens the ledger with
    # `open_readonly`, so none of these can block the gate's commits (WAL).

    def max_seq(self) -> int:
        """The newest record's seq (0 for an empty ledger)."""
        return int(self._query("SELECT coalesce(max(seq), 0) AS n FROM records")[0]["n"])

    def records_after(self, seq: int, limit: int = 100) -> list[Record]:
        """Records newer than `seq`, oldest first (the console's live feed)."""
        return [Record.from_row(r) for r in self._query(
            "SELECT * FROM records WHERE seq > ? ORDER BY seq LIMIT ?", [seq, limit])]

    def latest_records(self, limit: int, kinds: Sequence[str] = ("entry", "exit", "alarm",
                                                                   "fault")) -> list[Record]:
        """The newest `limit` records of `kinds`, newest first."""
        marks = ", ".join("?" for _ in kinds)
        return [Record.from_row(r) for r in self._query(
            f"SELECT * FROM records WHERE kind IN ({marks}) ORDER BY seq DESC LIMIT ?",
            [*kinds, limit])]

    def record_by_seq(self, seq: int) -> Record | None:
        rows = self._query("SELECT * FROM records WHERE seq = ?", [seq])
        return Record.from_row(rows[0]) if rows else None

    def synced_flag(self, seq: int) -> bool | None:
        """Whether the town has acknowledged record `seq` (None: no such record)."""
        rows = self._query("SELECT synced FROM records WHERE seq = ?", [seq])
        return bool(rows[0]["synced"]) if rows else None

    def day_totals(self, day: str) -> dict[str, int]:
        """Counts for one CST day: admitted, denied (entries), exits, alarms, faults, people
        (distinct subjects with an entry)."""
        counts = dict.fromkeys(("admitted", "denied", "exits", "alarms", "faults"), 0)
        for row in self._query("SELECT kind, decision, count(*) AS n FROM records WHERE day = ? "
                              "GROUP BY kind, decision", [day]):
            if row["kind"] == "entry":
                counts["admitted" if row["decision"] == "admit" else "denied"] += row["n"]
            elif row["kind"] in ("exit", "alarm", "fault"):
                counts[row["kind"] + "s"] += row["n"]
        counts["people"] = int(self._query(
            "SELECT count(DISTINCT subject) AS n FROM records WHERE day = ? AND kind = 'entry' "
            "AND subject IS NOT NULL", [day])[0]["n"])
        return counts

    def newest_day(self) -> str | None:
        """The CST day of the newest record (None for an empty ledger)."""
        day = self._query("SELECT max(day) AS day FROM records", [])[0]["day"]
        return None if day is None else str(day)

    def _days_newest_first(self, limit_days: int = 400) -> list[str]:
        """The CST days from the newest record's back to the oldest's (at most `limit_days`).
        Kinds rarer than entries (faults, alarms) are then found day by day through the
        (day, kind) index instead of a scan of the whole table."""
        # two queries: SQLite answers a lone min() or max() from the index, not both at once
        newest = self._query("SELECT max(day) AS day FROM records", [])[0]["day"]
        oldest = self._query("SELECT min(day) AS day FROM records", [])[0]["day"]
        if newest is None:
            return []
        first, last = dt.date.fromisoformat(oldest), dt.date.fromisoformat(newest)
        count = min((last - first).days + 1, limit_days)
        return [(last - dt.timedelta(days=n)).isoformat() for n in range(count)]

    def latest_faults(self) -> dict[str, Record]:
        """Each device's latest fault record (a fault or its recovery), by device; one
        index lookup per device (records_faults)."""
        latest: dict[str, Record] = {}
        for row in self._query("SELECT DISTINCT device FROM records "
                               "WHERE kind = 'fault' AND device IS NOT NULL"):
            rows = self._query("SELECT * FROM records WHERE kind = 'fault' AND device = ? "
                               "ORDER BY seq DESC LIMIT 1", [row["device"]])
            latest[row["device"]] = Record.from_row(rows[0])
        return latest

    def sync_summary(self) -> dict[str, Any]:
        """backlog (unsynced records), the oldest unsynced record's time, the newest synced
        record's time (what the town has acknowledged)."""
        backlog = self._query("SELECT count(*) AS n, min(seq) AS first FROM records "
                             "WHERE synced = 0")[0]
        oldest = self._query("SELECT time FROM records WHERE seq = ?", [backlog["first"]]) \
            if backlog["first"] is not None else []
        newest = self._query("SELECT time FROM records WHERE synced = 1 ORDER BY seq DESC "
                            "LIMIT 1")
        return {"backlog": int(backlog["n"]),
                "oldest_unsynced": oldest[0]["time"] if oldest else None,
                "newest_synced": newest[0]["time"] if newest else None}

    def search(self, *, first_day: str, last_day: str, subject: str | None = None,
               decision: str | None = None, reason: str | None = None,
               kind: str | None = None, limit: int = 50, offset: int = 0,
               count_up_to: int = 10_000) -> tuple[list[Record], int]:
        """Records of the CST days first_day..last_day matching every filter given, newest
        first, one page; and how many match (counted up to `count_up_to`)."""
        where = ["day BETWEEN ? AND ?"]
        params: list[Any] = [first_day, last_day]
        for condition, value in (("subject = ?", subject), ("decision = ?", decision),
                                 ("kind = ?", kind)):
            if value is not None:
                where.append(condition)
                params.append(value)
        if reason is not None:
            # reasons is a JSON list of codes; the quoted code is an exact element match
            # `reasons <> '[]'` lets SQLite use the partial index records_reasoned
            where.append("reasons <> '[]' AND instr(reasons, ?) > 0")
            params.append(json.dumps(reason))
        clause = " AND ".join(where)
        # The page's seqs first (from the covering index when searching by reason), then
        # only those rows: sorting a year of whole rows to keep 50 costs ~0.5 s.
        rows = self._query(f"SELECT * FROM records WHERE seq IN (SELECT seq FROM records "
                          f"WHERE {clause} ORDER BY seq DESC LIMIT ? OFFSET ?) "
                          f"ORDER BY seq DESC", [*params, limit, offset])
        total = self._query(f"SELECT count(*) AS n FROM (SELECT 1 FROM records WHERE {clause} "
                           f"LIMIT ?)", [*params, count_up_to])[0]["n"]
        return [Record.from_row(r) for r in rows], int(total)

    def alarm_days(self) -> list[tuple[str, int]]:
        """(day, number of fever alarms) for each day with any, newest first."""
        found = []
        for day in self._days_newest_first():
            n = self._query("SELECT count(*) AS n FROM records WHERE day = ? AND kind = 'alarm'",
                           [day])[0]["n"]
            if n:
                found.append((day, int(n)))
        return found

    def alarms_page(self, limit: int, offset: int = 0) -> list[Record]:
        """Fever alarms, newest first by event time; one page."""
        page: list[Record] = []
        skip = offset
        for day, n in self.alarm_days():
            if skip >= n:
                skip -= n
                continue
            rows = self._query("SELECT * FROM records WHERE day = ? AND kind = 'alarm' "
                              "ORDER BY time DESC, seq DESC LIMIT ? OFFSET ?",
                              [day, limit - len(page), skip])
            page.extend(Record.from_row(r) for r in rows)
            skip = 0
            if len(page) >= limit:
                break
        return page

    def alarm_count(self) -> int:
        return sum(n for _, n in self.alarm_days())

    def entries_on(self, day: str) -> list[Record]:
        """Every entry record of one CST day, in seq order."""
        return list(self._records("day = ? AND kind = 'entry'", [day]))

    def decided_entries_on(self, day: str) -> list[DecidedEntry]:
        """What was decided at each entry of one CST day, in seq order: the fields the
        policy read (the code's claims, the temperature) and what it decided. The what-if
        page re-decides a whole day (3,000 entries) on every view; reading these columns as
        tuples costs a fraction of whole records."""
        try:
            rows = self._conn.execute(
                f"SELECT {', '.join(DecidedEntry._fields)} FROM records "
                "WHERE day = ? AND kind = 'entry' ORDER BY seq", [day]).fetchall()
        except sqlite3.Error as error:
            raise LedgerError(key="ledger.cannot_read", path=self.path, error=str(error)) from None
        empty: tuple[str, ...] = ()
        return [DecidedEntry._make((*row[:-1], empty if row[-1] in (None, "[]")
                                    else tuple(json.loads(row[-1])))) for row in rows]

    def returned_workers(self, earliest: str, window_first: str, window_last: str
                         ) -> list[dict[str, Any]]:
        """Workers whose code carries a return date in the window and not before `earliest`:
        subject, name, returned, origin and their newest NAT date seen (`nat`)."""
        return self._query(
            """SELECT subject, max(name) AS name, returned, max(origin) AS origin,
                      max(nat) AS nat, max(time) AS last_seen FROM records
               WHERE returned IS NOT NULL AND returned >= ? AND returned BETWEEN ? AND ?
                 AND subject IS NOT NULL
               GROUP BY subject, returned ORDER BY returned, subject""",
            [earliest, window_first, window_last])

    def arrivals_by_slot(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """Entries per day and 10-minute slot (`HH:M`, e.g. `07:3` is 07:30–07:39)."""
        return self._query("SELECT day, substr(time, 12, 4) AS slot, count(*) AS n "
                          "FROM records WHERE day BETWEEN ? AND ? AND kind = 'entry' "
                          "GROUP BY day, slot", [first_day, last_day])

    def temperature_counts(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """Entries per measured temperature, rounded down to 0.1 °C (`tenths`, e.g. 365)."""
        return self._query("SELECT CAST(floor(temperature_c * 10 + 1e-6) AS INTEGER) AS tenths, "
                          "count(*) AS n FROM records WHERE day BETWEEN ? AND ? "
                          "AND kind = 'entry' AND temperature_c IS NOT NULL "
                          "GROUP BY tenths ORDER BY tenths", [first_day, last_day])

    def denials_by_day(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """Denied entries per day and reason code."""
        return self._query("SELECT day, j.value AS reason, count(*) AS n "
                          "FROM records, json_each(records.reasons) AS j "
                          "WHERE day BETWEEN ? AND ? AND kind = 'entry' AND decision = 'deny' "
                          "GROUP BY day, reason ORDER BY day, reason", [first_day, last_day])

    def people_by_hour(self, day: str) -> list[dict[str, Any]]:
        """Distinct people (subjects) with an entry in each hour of one day."""
        return self._query("SELECT substr(time, 12, 2) AS hour, count(DISTINCT subject) AS n "
                          "FROM records WHERE day = ? AND kind = 'entry' "
                          "AND subject IS NOT NULL GROUP BY hour ORDER BY hour", [day])

    # -- end of console reads -------------------------------------------------------------------

    def count(self) -> int:
        return int(self._query("SELECT count(*) AS n FROM records")[0]["n"])

    def all_records(self) -> Iterator[Record]:
        """Every record, oldest first, a page at a time."""
        return self._records()

    # -- named reads: sync --------------------------------------------------------------------

    def backlog(self) -> int:
        """How many records the town has not acknowledged yet."""
        return int(self._query("SELECT count(*) AS n FROM records WHERE synced = 0")[0]["n"])

    def unsynced(self, limit: int, *, alarms_after: int | None = None) -> list[Record]:
        """The oldest unsynced records; with `alarms_after`, only alarms with a higher seq
        (the sync client sends alarms before older ordinary records)."""
        if alarms_after is not None:
            return list(self._records("synced = 0 AND kind = 'alarm' AND seq > ?",
                                      [alarms_after], limit=limit))
        return list(self._records("synced = 0", limit=limit))

    def unsynced_json(self, limit: int, *, alarms_after: int | None = None
                      ) -> list[dict[str, Any]]:
        """`unsynced`, each record as its `to_json()` (the sync client's push path)."""
        where, params = "synced = 0", []
        if alarms_after is not None:
            where, params = "synced = 0 AND kind = 'alarm' AND seq > ?", [alarms_after]
        return [Record.json_from_row(row) for row in self._query(
            f"SELECT * FROM records WHERE {where} ORDER BY seq LIMIT ?", [*params, limit])]

    def sync_marks(self) -> list[tuple[int, bool]]:
        """(seq, synced) of every record, in seq order: what the town has been told."""
        return [(int(row["seq"]), bool(row["synced"])) for row in
                self._query("SELECT seq, synced FROM records ORDER BY seq")]

    def oldest_unsynced_seq(self) -> int | None:
        rows = self._query("SELECT min(seq) AS seq FROM records WHERE synced = 0")
        return None if rows[0]["seq"] is None else int(rows[0]["seq"])

    def open_faults(self) -> list[str]:
        """Devices whose latest fault record is not a recovery, sorted."""
        rows = self._query(
            """SELECT device, detail FROM records AS r
               WHERE kind = 'fault' AND device IS NOT NULL
                 AND seq = (SELECT max(seq) FROM records
                            WHERE kind = 'fault' AND device = r.device)""")
        return sorted(row["device"] for row in rows
                      if not (row["detail"] or "").startswith(RECOVERED))

    # -- named reads: the officer's views -----------------------------------------------------

    def find(self, *, day: dt.date | None = None, since: str | None = None,
             until: str | None = None, denied: bool = False, fever: bool = False,
             subject: str | None = None, kind: str | None = None) -> Iterator[Record]:
        """Records matching every filter given, oldest first. `since`/`until` compare the
        recorded CST wall time (ISO 8601 text, `until` exclusive)."""
        where: list[str] = ["1"]
        params: list[Any] = []
        for condition, value in (("day = ?", day.isoformat() if day else None),
                                 ("time >= ?", since), ("time < ?", until),
                                 ("subject = ?", subject), ("kind = ?", kind)):
            if value is not None:
                where.append(condition)
                params.append(value)
        if denied:
            where.append("kind = 'entry' AND decision = 'deny'")
        if fever:
            where.append("(kind = 'alarm' OR EXISTS (SELECT 1 FROM json_each(reasons) "
                         "WHERE value = 'fever'))")
        return self._records(" AND ".join(where), params)

    def first_entries(self, day: dt.date) -> list[dict[str, Any]]:
        """Each identified person's first entry of `day` (with `n`, their entries that day),
        in time order: the daily register."""
        # With exactly one min() aggregate, SQLite takes the bare columns from the row holding
        # the minimum (https://sqlite.org/lang_select.html#bareagg): the first entry, grouped
        # in one pass, 3× faster than the window functions over the same rows.
        rows = self._query(
            """SELECT subject, name, org, time, temperature_c, color, decision, reasons,
                      min(seq) AS seq, count(*) AS n
               FROM records WHERE day = ? AND kind = 'entry' AND subject IS NOT NULL
               GROUP BY subject ORDER BY time, seq""", [day.isoformat()])
        for row in rows:
            del row["seq"]
            reasons = row["reasons"]
            row["reasons"] = () if reasons == "[]" else tuple(json.loads(reasons))
        return rows

    def unidentified_entries(self, day: dt.date) -> list[Record]:
        """Entries of `day` without a verified subject (bad code, no code), oldest first."""
        return list(self._records("day = ? AND kind = 'entry' AND subject IS NULL",
                                  [day.isoformat()]))

    def alarms(self, day: dt.date) -> list[Record]:
        """The alarm records of `day`, newest first."""
        return list(self._records("day = ? AND kind = 'alarm'", [day.isoformat()],
                                  order="seq DESC"))

    def day_counts(self, day: dt.date) -> dict[tuple[str, str | None], int]:
        """How many records of `day` per (kind, decision)."""
        return {(row["kind"], row["decision"]): int(row["n"]) for row in self._query(
            """SELECT kind, decision, count(*) AS n FROM records
               WHERE day = ? GROUP BY kind, decision""", [day.isoformat()])}

    def returning_workers(self, returned_on: Collection[dt.date]) -> list[dict[str, Any]]:
        """(subject, name, returned, origin, nat = the latest NAT seen) of every returning
        worker whose return date is one of `returned_on`, by return date."""
        days = sorted({day.isoformat() for day in returned_on})
        if not days:
            return []
        return self._query(
            f"""SELECT subject, name, returned, origin, max(nat) AS nat FROM records
                WHERE returned IS NOT NULL AND returned IN ({", ".join("?" * len(days))})
                  AND subject IS NOT NULL
                GROUP BY subject, returned ORDER BY returned, subject""", days)

    def entries_per_day(self, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
        """Per day in [first, last]: entries, admitted, denied, fevers."""
        return self._query(
            """SELECT day, count(*) AS entries,
                      sum(decision = 'admit') AS admitted, sum(decision = 'deny') AS denied,
                      sum(EXISTS (SELECT 1 FROM json_each(reasons) WHERE value = 'fever'))
                        AS fevers
               FROM records WHERE kind = 'entry' AND day BETWEEN ? AND ?
               GROUP BY day ORDER BY day""", [first.isoformat(), last.isoformat()])

    def entries_per_hour(self, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
        """Per hour of the day (CST wall time), over [first, last]: entries and denied."""
        return self._query(
            """SELECT substr(time, 12, 2) AS hour, count(*) AS entries,
                      sum(decision = 'deny') AS denied
               FROM records WHERE kind = 'entry' AND day BETWEEN ? AND ?
               GROUP BY hour ORDER BY hour""", [first.isoformat(), last.isoformat()])

    def denial_reasons(self, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
        """How often each reason code denied an entry in [first, last], most frequent first."""
        return self._query(
            """SELECT j.value AS reason, count(*) AS n
               FROM records, json_each(records.reasons) AS j
               WHERE kind = 'entry' AND decision = 'deny' AND day BETWEEN ? AND ?
               GROUP BY j.value ORDER BY n DESC, reason""", [first.isoformat(), last.isoformat()])

    # -- named reads: registration (registration.md) -------------------------------------------

    def find_event(self, event_id: str) -> Record | None:
        """The record with this event id, or None."""
        rows = self._query("SELECT * FROM records WHERE event_id = ?", [event_id])
        return Record.from_row(rows[0]) if rows else None

    def has_left(self, visit_id: str) -> bool:
        """Whether an `out` record refers to the `in` record `visit_id`."""
        return bool(self._query("SELECT 1 FROM records WHERE visit_id = ? AND direction = 'out' "
                                "LIMIT 1", [visit_id]))

    def inside_now(self, kind: Literal["vehicle", "visitor"]) -> list[Record]:
        """The `in` records of `kind` that no `out` record refers to, oldest first."""
        return list(self._records(
            "kind = ? AND direction = 'in' AND NOT EXISTS (SELECT 1 FROM records AS o "
            "WHERE o.visit_id = records.event_id AND o.direction = 'out')", [kind]))

    def arrivals_on(self, kind: Literal["vehicle", "visitor"], day: str) -> list[Record]:
        """The `in` records of `kind` on one CST day, in seq order (the daily registers)."""
        return list(self._records("kind = ? AND direction = 'in' AND day = ?", [kind, day]))

    def departures_of(self, kind: Literal["vehicle", "visitor"], day: str) -> list[Record]:
        """The `out` records (any day) of the `in` records of `kind` on one CST day."""
        return list(self._records(
            "kind = ? AND direction = 'out' AND visit_id IN (SELECT event_id FROM records AS i "
            "WHERE i.kind = ? AND i.direction = 'in' AND i.day = ?)", [kind, kind, day]))

    def latest_ack(self, alarm_event_id: str) -> Record | None:
        """The last `ack` of an alarm (its state), or None while it is unhandled."""
        rows = self._query("SELECT * FROM records WHERE kind = 'ack' AND ref_event_id = ? "
                           "ORDER BY seq DESC LIMIT 1", [alarm_event_id])
        return Record.from_row(rows[0]) if rows else None

    _UNHANDLED = ("kind = 'alarm' AND NOT EXISTS (SELECT 1 FROM records AS a "
                  "WHERE a.ref_event_id = records.event_id AND a.kind = 'ack')")

    def unhandled_alarms(self, limit: int | None = None) -> list[Record]:
        """Alarms no `ack` refers to, newest first; the newest `limit` of them when given
        (records_alarms, then one records_acks lookup per alarm)."""
        return list(self._records(self._UNHANDLED, order="seq DESC", limit=limit))

    def unhandled_alarm_count(self) -> int:
        """How many alarms no `ack` refers to (the gate page's and kiosk's reminder)."""
        return int(self._query(f"SELECT count(*) AS n FROM records WHERE {self._UNHANDLED}")
                   [0]["n"])

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

