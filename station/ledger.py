"""The station's ledger: every decision, fault and alarm, durably, in order.

SQLite through sqlite-utils; WAL journal with `synchronous=FULL` (a commit survives power
loss once `append` returns, if the card honours flushes); a busy timeout; the schema versioned
with `PRAGMA user_version` and applied by migrations in order.

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

import sqlite_utils

from station.errors import StationError

Kind = Literal["entry", "exit", "fault", "alarm"]
T = TypeVar("T")
BUSY_TIMEOUT_MS = 5000

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
)


_COLUMNS = (
    "event_id", "kind", "time", "day", "clock_synced", "boot_id", "boottime_ns", "direction",
    "subject", "name", "issuer", "org", "color", "nat", "returned", "origin", "temperature_c",
    "ambient_c", "readings", "decision", "reasons", "detail",
)
INSERT_SQL = (f"INSERT INTO records ({', '.join(_COLUMNS)}) "
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
            if readonly:
                self._conn = self._connect_readonly()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(self.path, isolation_level=None,
                                             check_same_thread=False)
                self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = FULL")
                self._migrate()
            self.db = sqlite_utils.Database(self._conn)
            self.epoch = self._meta("epoch")
        except (sqlite3.Error, OSError) as error:
            raise LedgerError(f"{self.path}: cannot open the ledger: {error}") from None

    @classmethod
    def open_readonly(cls, path: str | Path) -> Ledger:
        if not Path(path).exists():
            raise LedgerError(f"{path}: no ledger here")
        return cls(path, readonly=True)

    def _connect_readonly(self) -> sqlite3.Connection:
        uri = f"file:{self.path.resolve()}?mode=ro"
        wal = self.path.with_name(self.path.name + "-wal")
        if not wal.exists() and not self.path.with_name(self.path.name + "-shm").exists():
            # no writer has the file open (it would have made -wal/-shm), and a read-only
            # connection cannot create them: read the file as it stands
            uri += "&immutable=1"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._check_schema(conn, new_file_allowed=False)
        return conn

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
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                if number == 0:
                    self._conn.execute("INSERT INTO meta VALUES ('epoch', ?), ('created', ?)",
                                       (str(uuid.uuid4()), dt.datetime.now(dt.UTC).isoformat()))
                self._conn.execute(f"PRAGMA user_version = {number + 1}")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

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
                cursor = conn.execute(INSERT_SQL, record.to_row())
                written.append(Record(**{**asdict(record), "seq": cursor.lastrowid}))

        self._transaction(insert)
        return written

    def mark_synced(self, through_seq: int) -> int:
        """Mark records up to `through_seq` as received by the town; how many changed."""
        return self._transaction(lambda conn: conn.execute(
            "UPDATE records SET synced = 1 WHERE synced = 0 AND seq <= ?",
            (through_seq,)).rowcount)

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
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                return work(self._conn)
        except (sqlite3.Error, OSError) as error:
            raise LedgerError(f"{self.path}: cannot write the ledger: {error}") from None

    # -- reading ----------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
              ) -> list[dict[str, Any]]:
        """All rows of a query. Materialized on purpose: a half-read cursor would hold a
        read transaction open and pin this connection to an old snapshot of the WAL."""
        try:
            return list(self.db.query(sql, params))
        except sqlite3.Error as error:
            raise LedgerError(f"{self.path}: cannot read the ledger: {error}") from None

    def records(self, where: str = "1", params: Sequence[Any] = (), *, order: str = "seq",
                limit: int | None = None, page: int = 2000) -> Iterator[Record]:
        """Matching records; in seq order they are read a page at a time, so a whole-ledger
        export does not hold the ledger in memory."""
        if order != "seq":
            sql = f"SELECT * FROM records WHERE {where} ORDER BY {order}"
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            for row in self.query(sql, params):
                yield Record.from_row(row)
            return
        after, left = 0, limit
        while left is None or left > 0:
            size = page if left is None else min(page, left)
            rows = self.query(f"SELECT * FROM records WHERE ({where}) AND seq > ? "
                              f"ORDER BY seq LIMIT {size}", [*params, after])
            for row in rows:
                yield Record.from_row(row)
            if len(rows) < size:
                return
            after = rows[-1]["seq"]
            if left is not None:
                left -= len(rows)

    # -- console reads ------------------------------------------------------------------------
    # Named read-only queries for the station console (station/console/). Each is one query on
    # the indexes above (day, subject, returned, unsynced); the console opens the ledger with
    # `open_readonly`, so none of these can block the gate's commits (WAL).

    def max_seq(self) -> int:
        """The newest record's seq (0 for an empty ledger)."""
        return int(self.query("SELECT coalesce(max(seq), 0) AS n FROM records")[0]["n"])

    def records_after(self, seq: int, limit: int = 100) -> list[Record]:
        """Records newer than `seq`, oldest first (the console's live feed)."""
        return [Record.from_row(r) for r in self.query(
            "SELECT * FROM records WHERE seq > ? ORDER BY seq LIMIT ?", [seq, limit])]

    def latest_records(self, limit: int, kinds: Sequence[str] = ("entry", "exit", "alarm",
                                                                   "fault")) -> list[Record]:
        """The newest `limit` records of `kinds`, newest first."""
        marks = ", ".join("?" for _ in kinds)
        return [Record.from_row(r) for r in self.query(
            f"SELECT * FROM records WHERE kind IN ({marks}) ORDER BY seq DESC LIMIT ?",
            [*kinds, limit])]

    def record_by_seq(self, seq: int) -> Record | None:
        rows = self.query("SELECT * FROM records WHERE seq = ?", [seq])
        return Record.from_row(rows[0]) if rows else None

    def synced_flag(self, seq: int) -> bool | None:
        """Whether the town has acknowledged record `seq` (None: no such record)."""
        rows = self.query("SELECT synced FROM records WHERE seq = ?", [seq])
        return bool(rows[0]["synced"]) if rows else None

    def day_counts(self, day: str) -> dict[str, int]:
        """Counts for one CST day: admitted, denied (entries), exits, alarms, faults, people
        (distinct subjects with an entry)."""
        counts = dict.fromkeys(("admitted", "denied", "exits", "alarms", "faults"), 0)
        for row in self.query("SELECT kind, decision, count(*) AS n FROM records WHERE day = ? "
                              "GROUP BY kind, decision", [day]):
            if row["kind"] == "entry":
                counts["admitted" if row["decision"] == "admit" else "denied"] += row["n"]
            elif row["kind"] in ("exit", "alarm", "fault"):
                counts[row["kind"] + "s"] += row["n"]
        counts["people"] = int(self.query(
            "SELECT count(DISTINCT subject) AS n FROM records WHERE day = ? AND kind = 'entry' "
            "AND subject IS NOT NULL", [day])[0]["n"])
        return counts

    def _rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        """`query` without sqlite-utils' per-call overhead (for the day-by-day loops)."""
        try:
            cursor = self._conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except sqlite3.Error as error:
            raise LedgerError(f"{self.path}: cannot read the ledger: {error}") from None

    def _days_newest_first(self, limit_days: int = 400) -> list[str]:
        """The CST days from the newest record's back to the oldest's (at most `limit_days`).
        Kinds rarer than entries (faults, alarms) are then found day by day through the
        (day, kind) index instead of a scan of the whole table."""
        # two queries: SQLite answers a lone min() or max() from the index, not both at once
        newest = self._rows("SELECT max(day) AS day FROM records", [])[0]["day"]
        oldest = self._rows("SELECT min(day) AS day FROM records", [])[0]["day"]
        if newest is None:
            return []
        first, last = dt.date.fromisoformat(oldest), dt.date.fromisoformat(newest)
        count = min((last - first).days + 1, limit_days)
        return [(last - dt.timedelta(days=n)).isoformat() for n in range(count)]

    def latest_faults(self, scan: int = 500) -> dict[str, Record]:
        """Each device's latest fault record among the newest `scan` faults; a fault record's
        detail is `DEVICE: what happened` (`DEVICE: recovered…` when it ended)."""
        latest: dict[str, Record] = {}
        seen = 0
        for day in self._days_newest_first():
            for row in self._rows("SELECT * FROM records WHERE day = ? AND kind = 'fault' "
                                  "ORDER BY seq DESC", [day]):
                device = (row["detail"] or "").partition(":")[0].strip()
                if device and device not in latest:
                    latest[device] = Record.from_row(row)
                seen += 1
            if seen >= scan:
                break
        return latest

    def sync_summary(self) -> dict[str, Any]:
        """backlog (unsynced records), the oldest unsynced record's time, the newest synced
        record's time (what the town has acknowledged)."""
        backlog = self.query("SELECT count(*) AS n, min(seq) AS first FROM records "
                             "WHERE synced = 0")[0]
        oldest = self.query("SELECT time FROM records WHERE seq = ?", [backlog["first"]]) \
            if backlog["first"] is not None else []
        newest = self.query("SELECT time FROM records WHERE synced = 1 ORDER BY seq DESC "
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
            where.append("instr(reasons, ?) > 0")
            params.append(json.dumps(reason))
        clause = " AND ".join(where)
        rows = self.query(f"SELECT * FROM records WHERE {clause} ORDER BY seq DESC "
                          f"LIMIT ? OFFSET ?", [*params, limit, offset])
        total = self.query(f"SELECT count(*) AS n FROM (SELECT 1 FROM records WHERE {clause} "
                           f"LIMIT ?)", [*params, count_up_to])[0]["n"]
        return [Record.from_row(r) for r in rows], int(total)

    def alarm_days(self) -> list[tuple[str, int]]:
        """(day, number of fever alarms) for each day with any, newest first."""
        found = []
        for day in self._days_newest_first():
            n = self._rows("SELECT count(*) AS n FROM records WHERE day = ? AND kind = 'alarm'",
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
            rows = self.query("SELECT * FROM records WHERE day = ? AND kind = 'alarm' "
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
        return list(self.records("day = ? AND kind = 'entry'", [day]))

    def returned_workers(self, earliest: str, window_first: str, window_last: str
                         ) -> list[dict[str, Any]]:
        """Workers whose code carries a return date in the window and not before `earliest`:
        subject, name, returned, origin and their newest NAT date seen (`nat`)."""
        return self.query(
            """SELECT subject, max(name) AS name, returned, max(origin) AS origin,
                      max(nat) AS nat, max(time) AS last_seen FROM records
               WHERE returned IS NOT NULL AND returned >= ? AND returned BETWEEN ? AND ?
                 AND subject IS NOT NULL
               GROUP BY subject, returned ORDER BY returned, subject""",
            [earliest, window_first, window_last])

    def arrivals_by_slot(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """Entries per day and 10-minute slot (`HH:M`, e.g. `07:3` is 07:30–07:39)."""
        return self.query("SELECT day, substr(time, 12, 4) AS slot, count(*) AS n "
                          "FROM records WHERE day BETWEEN ? AND ? AND kind = 'entry' "
                          "GROUP BY day, slot", [first_day, last_day])

    def temperature_counts(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """Entries per measured temperature, rounded down to 0.1 °C (`tenths`, e.g. 365)."""
        return self.query("SELECT CAST(floor(temperature_c * 10 + 1e-6) AS INTEGER) AS tenths, "
                          "count(*) AS n FROM records WHERE day BETWEEN ? AND ? "
                          "AND kind = 'entry' AND temperature_c IS NOT NULL "
                          "GROUP BY tenths ORDER BY tenths", [first_day, last_day])

    def denials_by_day(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """Denied entries per day and reason code."""
        return self.query("SELECT day, j.value AS reason, count(*) AS n "
                          "FROM records, json_each(records.reasons) AS j "
                          "WHERE day BETWEEN ? AND ? AND kind = 'entry' AND decision = 'deny' "
                          "GROUP BY day, reason ORDER BY day, reason", [first_day, last_day])

    def people_by_hour(self, day: str) -> list[dict[str, Any]]:
        """Distinct people (subjects) with an entry in each hour of one day."""
        return self.query("SELECT substr(time, 12, 2) AS hour, count(DISTINCT subject) AS n "
                          "FROM records WHERE day = ? AND kind = 'entry' "
                          "AND subject IS NOT NULL GROUP BY hour ORDER BY hour", [day])

    # -- end of console reads -------------------------------------------------------------------

    def count(self) -> int:
        return int(self.query("SELECT count(*) AS n FROM records")[0]["n"])

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

