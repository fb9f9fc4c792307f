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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

from station import sqlite
from station.errors import StationError

Kind = Literal["entry", "exit", "fault", "alarm"]
T = TypeVar("T")
# A fault record whose `detail` starts with this word ends its device's fault (the ledger's
# own outage record adds what happened meanwhile after a semicolon).
RECOVERED = "recovered"

MIGRATIONS: tuple[str, ...] = (
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
)


_COLUMNS = (
    "event_id", "kind", "time", "day", "clock_synced", "boot_id", "boottime_ns", "direction",
    "subject", "name", "issuer", "org", "color", "nat", "returned", "origin", "temperature_c",
    "ambient_c", "readings", "decision", "reasons", "detail", "device",
)
_INSERT_SQL = (f"INSERT INTO records ({', '.join(_COLUMNS)}) "
              f"VALUES ({', '.join(':' + c for c in _COLUMNS)})")


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
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    seq: int | None = None

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("seq")
        row["readings"] = json.dumps(list(self.readings))
        row["reasons"] = json.dumps(list(self.reasons))
        row["clock_synced"] = int(self.clock_synced)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Record:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in row.items() if k in known}
        values["readings"] = tuple(json.loads(row.get("readings") or "[]"))
        values["reasons"] = tuple(json.loads(row.get("reasons") or "[]"))
        values["clock_synced"] = bool(row.get("clock_synced"))
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The record as sync.md and scenario.md show it (lists, booleans, nulls)."""
        data = asdict(self)
        data["readings"] = list(self.readings)
        data["reasons"] = list(self.reasons)
        return data


class Ledger:
    """The ledger file. Open with `Ledger(path)` to write, `Ledger.open_readonly` to read."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        try:
            self._conn = sqlite.connect(self.path, readonly=readonly)
            if readonly:
                self._check_schema(self._conn, new_file_allowed=False)
            else:
                self._migrate()
            self.epoch = self._meta("epoch")
        except (sqlite3.Error, OSError) as error:
            raise LedgerError(f"{self.path}: cannot open the ledger: {error}") from None

    @classmethod
    def open_readonly(cls, path: str | Path) -> Ledger:
        if not Path(path).exists():
            raise LedgerError(f"{path}: no ledger here")
        return cls(path, readonly=True)

    def _check_schema(self, conn: sqlite3.Connection, *, new_file_allowed: bool) -> int:
        """The file's schema version; LedgerError if it is another kind of database or a
        ledger newer than this program. An empty file is version 0 (writers create it)."""
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise LedgerError(f"{self.path}: ledger schema {version} is newer than this program")
        if version == 0 and (not new_file_allowed or conn.execute(
                "SELECT count(*) FROM sqlite_master").fetchone()[0]):
            raise LedgerError(f"{self.path}: not a gate-station ledger")
        return version

    def _migrate(self) -> None:
        version = self._check_schema(self._conn, new_file_allowed=True)
        for number in range(version, len(MIGRATIONS)):
            with sqlite.transaction(self._conn) as conn:
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                if number == 0:
                    conn.execute("INSERT INTO meta VALUES ('epoch', ?), ('created', ?)",
                                 (str(uuid.uuid4()), dt.datetime.now(dt.UTC).isoformat()))
                conn.execute(f"PRAGMA user_version = {number + 1}")

    def _meta(self, key: str) -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise LedgerError(f"{self.path}: ledger has no {key}")
        return str(row[0])

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
                written.append(Record(**{**asdict(record), "seq": cursor.lastrowid}))

        self._transaction(insert)
        return written

    def mark_synced(self, through_seq: int) -> int:
        """Mark records up to `through_seq` as received by the town; how many changed."""
        return self._transaction(lambda conn: conn.execute(
            "UPDATE records SET synced = 1 WHERE synced = 0 AND seq <= ?",
            (through_seq,)).rowcount)

    def mark_synced_seqs(self, seqs: Sequence[int]) -> int:
        """Mark exactly these records as received by the town, in one transaction; how many
        changed (records already marked, or purged, are not counted)."""
        return self._transaction(lambda conn: conn.executemany(
            "UPDATE records SET synced = 1 WHERE seq = ? AND synced = 0",
            [(seq,) for seq in seqs]).rowcount)

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
            raise LedgerError(f"{self.path}: opened read-only")
        try:
            with sqlite.transaction(self._conn) as conn:
                return work(conn)
        except (sqlite3.Error, OSError) as error:
            raise LedgerError(f"{self.path}: cannot write the ledger: {error}") from None

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
            raise LedgerError(f"{self.path}: cannot read the ledger: {error}") from None

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

    def count(self) -> int:
        return int(self._query("SELECT count(*) AS n FROM records")[0]["n"])

    def last_seq(self) -> int:
        """The highest seq this ledger has ever issued (0 for none), purged records included."""
        rows = self._query("SELECT seq FROM sqlite_sequence WHERE name = 'records'")
        return int(rows[0]["seq"]) if rows else 0

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

    def newest_synced_clock_time(self) -> str | None:
        """The wall time of the newest record written with a synchronized clock: the clock
        floor of health-code.md."""
        rows = self._query("SELECT time FROM records WHERE clock_synced = 1 "
                           "ORDER BY seq DESC LIMIT 1")
        return str(rows[0]["time"]) if rows else None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

