"""The town server's storage: stations, tokens, records, the bundle. SQLite by default.

`TownStore` is the one interface the web app uses, so that a PostgreSQL implementation can
follow; `SqliteTownStore` is the default (WAL, `synchronous=FULL`: once the server answers
`acked_through`, a station may purge those records, so an answered commit must survive a
power cut).

Ingest implements sync.md: `(station, epoch, seq)` is unique; the same key with the same
content is a duplicate, with different content a conflict (nothing of the request is stored);
a record whose fields cannot be accepted is stored in quarantine with its raw JSON and counts
as stored for `acked_through`, the highest N such that every seq 1..N is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from station.clock import CST, cst_date
from station.errors import StationError

RECORD_KINDS = ("entry", "exit", "fault", "alarm")
SCHEMA = """
CREATE TABLE IF NOT EXISTS stations (
    id TEXT PRIMARY KEY, enterprise TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL, last_heartbeat TEXT, heartbeat TEXT);
CREATE TABLE IF NOT EXISTS admin_tokens (
    token_hash TEXT PRIMARY KEY, created TEXT NOT NULL, note TEXT);
CREATE TABLE IF NOT EXISTS epochs (
    station TEXT NOT NULL, epoch TEXT NOT NULL, acked_through INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL, PRIMARY KEY (station, epoch));
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY, station TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL,
    digest TEXT NOT NULL, quarantined INTEGER NOT NULL DEFAULT 0, error TEXT,
    received TEXT NOT NULL, event_id TEXT, kind TEXT, time TEXT, corrected_time TEXT,
    clock_synced INTEGER, day TEXT, subject TEXT, name TEXT, color TEXT, decision TEXT,
    reasons TEXT, temperature_c REAL, raw TEXT NOT NULL,
    UNIQUE (station, epoch, seq));
CREATE INDEX IF NOT EXISTS records_kind ON records (kind, id);
CREATE INDEX IF NOT EXISTS records_station ON records (station, id);
CREATE INDEX IF NOT EXISTS records_day ON records (day, station);
CREATE TABLE IF NOT EXISTS trust_keys (kid TEXT NOT NULL, entry TEXT NOT NULL UNIQUE,
    added TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS revocations (sub TEXT PRIMARY KEY, before INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rules (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bundle_meta (id INTEGER PRIMARY KEY CHECK (id = 1),
    counter INTEGER NOT NULL, changed TEXT NOT NULL);
"""


class StoreError(StationError):
    """The town's database could not be opened or used."""


class Conflict(StoreError):
    """A (station, epoch, seq) already stored with different content."""

    def __init__(self, seq: int) -> None:
        super().__init__(f"seq {seq} is already stored with different content")
        self.seq = seq


def token_hash(token: str) -> str:
    """Tokens are 256-bit random strings, so one SHA-256 is a safe way to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def now_cst() -> dt.datetime:
    return dt.datetime.now(CST)


@dataclass(frozen=True)
class IngestResult:
    acked_through: int
    accepted: int
    duplicates: int
    quarantined: list[int]


@dataclass(frozen=True)
class Station:
    id: str
    enterprise: str


@dataclass
class StationStatus:
    id: str
    enterprise: str
    last_heartbeat: str | None
    heartbeat: dict[str, Any]
    epochs: dict[str, int] = field(default_factory=dict)

    def silent_for(self, now: dt.datetime) -> dt.timedelta | None:
        if self.last_heartbeat is None:
            return None
        return now - dt.datetime.fromisoformat(self.last_heartbeat)


class TownStore(Protocol):
    """What the town server needs from its storage."""

    def add_station(self, station_id: str, enterprise: str) -> str: ...

    def new_admin_token(self, note: str = "") -> str: ...

    def station_for_token(self, token: str) -> Station | None: ...

    def is_admin_token(self, token: str) -> bool: ...

    def ingest(self, station: str, epoch: str, clock: dict[str, Any],
               entries: Sequence[dict[str, Any]]) -> IngestResult: ...

    def heartbeat(self, station: str, beat: dict[str, Any]) -> None: ...

    def stations(self) -> list[StationStatus]: ...

    def entries(self, *, station: str | None = None, enterprise: str | None = None,
                since: str | None = None, until: str | None = None, kind: str | None = None,
                after: int = 0, limit: int = 500, newest_first: bool = False
                ) -> list[dict[str, Any]]: ...

    def day_summary(self, day: dt.date) -> list[dict[str, Any]]: ...

    def bundle(self) -> dict[str, Any]: ...


# -- record validation (quarantine) ------------------------------------------------------------

_OPTIONAL_TEXT = ("boot_id", "direction", "subject", "name", "issuer", "org", "color", "nat",
                  "returned", "origin", "decision", "detail")


def record_problem(entry: dict[str, Any]) -> str | None:
    """Why a record cannot be accepted (it goes to quarantine), or None when it can."""
    if not isinstance(entry.get("event_id"), str) or not entry["event_id"]:
        return "event_id must be non-empty text"
    if entry.get("kind") not in RECORD_KINDS:
        return f"kind must be one of {', '.join(RECORD_KINDS)}"
    when = entry.get("time")
    if not isinstance(when, str):
        return "time must be ISO 8601 text"
    try:
        parsed = dt.datetime.fromisoformat(when)
    except ValueError:
        return "time is not ISO 8601"
    if parsed.tzinfo is None:
        return "time has no UTC offset"
    if not isinstance(entry.get("clock_synced"), bool):
        return "clock_synced must be true or false"
    for name in _OPTIONAL_TEXT:
        if entry.get(name) is not None and not isinstance(entry[name], str):
            return f"{name} must be text or null"
    boottime = entry.get("boottime_ns")
    if boottime is not None and (type(boottime) is not int or boottime < 0):
        return "boottime_ns must be a whole number or null"
    for name in ("temperature_c", "ambient_c"):
        value = entry.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"{name} must be a number or null"
    reasons = entry.get("reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        return "reasons must be a list of text"
    return None


def corrected_time(entry: dict[str, Any], clock: dict[str, Any],
                   received: dt.datetime) -> str | None:
    """The station's own time when its clock was NTP-synchronized; otherwise, for records of
    the request's boot, server_now − (clock.boottime_ns − entry.boottime_ns); else unknown."""
    if entry.get("clock_synced") is True:
        return str(entry["time"])
    same_boot = (isinstance(clock.get("boot_id"), str) and clock.get("boot_id") ==
                 entry.get("boot_id") and type(clock.get("boottime_ns")) is int
                 and type(entry.get("boottime_ns")) is int)
    if same_boot:
        ago_ns = clock["boottime_ns"] - entry["boottime_ns"]
        if ago_ns >= 0:
            return (received - dt.timedelta(microseconds=ago_ns // 1000)).isoformat(
                timespec="milliseconds")
    return None


def canonical(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class SqliteTownStore:
    """TownStore on one SQLite file. Thread-safe: one connection behind a lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, isolation_level=None,
                                         check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA busy_timeout = 10000")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.executescript(SCHEMA)
            self._conn.execute("INSERT OR IGNORE INTO bundle_meta VALUES (1, 0, ?)",
                               (now_cst().isoformat(timespec="seconds"),))
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot open the town database: {error}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    self._conn.execute(sql, params)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # -- stations and tokens -----------------------------------------------------------------

    def add_station(self, station_id: str, enterprise: str) -> str:
        """Register a station; return its bearer token (shown once, stored hashed)."""
        token = new_token()
        try:
            self._write([("INSERT INTO stations (id, enterprise, token_hash, created) "
                          "VALUES (?, ?, ?, ?)", (station_id, enterprise, token_hash(token),
                                                  now_cst().isoformat(timespec="seconds")))])
        except sqlite3.IntegrityError:
            raise StoreError(f"station {station_id!r} is already registered") from None
        return token

    def new_admin_token(self, note: str = "") -> str:
        token = new_token()
        self._write([("INSERT INTO admin_tokens VALUES (?, ?, ?)",
                      (token_hash(token), now_cst().isoformat(timespec="seconds"), note))])
        return token

    def station_for_token(self, token: str) -> Station | None:
        rows = self._query("SELECT id, enterprise FROM stations WHERE token_hash = ?",
                           (token_hash(token),))
        return Station(rows[0]["id"], rows[0]["enterprise"]) if rows else None

    def is_admin_token(self, token: str) -> bool:
        return bool(self._query("SELECT 1 FROM admin_tokens WHERE token_hash = ?",
                                (token_hash(token),)))

    # -- ingest ---------------------------------------------------------------------------

    def ingest(self, station: str, epoch: str, clock: dict[str, Any],
               entries: Sequence[dict[str, Any]]) -> IngestResult:
        """Store a push (entries in strictly ascending seq). Raises Conflict (nothing stored)."""
        received = now_cst()
        received_text = received.isoformat(timespec="milliseconds")
        rows: list[tuple[Any, ...]] = []
        quarantined: list[int] = []
        digests: dict[int, str] = {}
        for entry in entries:
            text = canonical(entry)
            digest = hashlib.sha256(text.encode()).hexdigest()
            seq = entry["seq"]
            digests[seq] = digest
            problem = record_problem(entry)
            if problem is not None:
                quarantined.append(seq)
                rows.append((station, epoch, seq, digest, 1, problem, received_text,
                             None, None, None, None, None, None, None, None, None, None, None,
                             None, text))
                continue
            when = dt.datetime.fromisoformat(entry["time"])
            rows.append((
                station, epoch, seq, digest, 0, None, received_text, entry["event_id"],
                entry["kind"], entry["time"], corrected_time(entry, clock, received),
                int(entry["clock_synced"]), cst_date(when).isoformat(),
                entry.get("subject"), entry.get("name"), entry.get("color"),
                entry.get("decision"), json.dumps(entry.get("reasons", []), ensure_ascii=False),
                entry.get("temperature_c"), text))
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("INSERT OR IGNORE INTO epochs VALUES (?, ?, 0, ?)",
                              (station, epoch, received_text))
                existing = {}
                seqs = list(digests)
                for start in range(0, len(seqs), 500):
                    chunk = seqs[start:start + 500]
                    marks = ",".join("?" * len(chunk))
                    for row in conn.execute(
                            f"SELECT seq, digest FROM records WHERE station = ? AND epoch = ? "
                            f"AND seq IN ({marks})", (station, epoch, *chunk)):
                        existing[row["seq"]] = row["digest"]
                for seq, digest in existing.items():
                    if digests[seq] != digest:
                        raise Conflict(seq)
                new_rows = [row for row in rows if row[2] not in existing]
                conn.executemany(
                    "INSERT INTO records (station, epoch, seq, digest, quarantined, error, "
                    "received, event_id, kind, time, corrected_time, clock_synced, day, "
                    "subject, name, color, decision, reasons, temperature_c, raw) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    new_rows)
                acked = self._advance(station, epoch)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return IngestResult(acked, len(new_rows) - sum(1 for r in new_rows if r[4]),
                            len(existing), [seq for seq in quarantined if seq not in existing])

    def _advance(self, station: str, epoch: str) -> int:
        conn = self._conn
        acked = conn.execute("SELECT acked_through FROM epochs WHERE station = ? AND epoch = ?",
                             (station, epoch)).fetchone()[0]
        while True:
            following = [row[0] for row in conn.execute(
                "SELECT seq FROM records WHERE station = ? AND epoch = ? AND seq > ? "
                "ORDER BY seq LIMIT 5000", (station, epoch, acked))]
            for seq in following:
                if seq != acked + 1:
                    break
                acked = seq
            else:
                if len(following) == 5000:
                    continue
            break
        conn.execute("UPDATE epochs SET acked_through = ? WHERE station = ? AND epoch = ?",
                     (acked, station, epoch))
        return int(acked)

    # -- heartbeats and status --------------------------------------------------------------

    def heartbeat(self, station: str, beat: dict[str, Any]) -> None:
        self._write([("UPDATE stations SET last_heartbeat = ?, heartbeat = ? WHERE id = ?",
                      (now_cst().isoformat(timespec="seconds"),
                       json.dumps(beat, ensure_ascii=False), station))])

    def stations(self) -> list[StationStatus]:
        statuses = {}
        for row in self._query("SELECT id, enterprise, last_heartbeat, heartbeat FROM stations "
                               "ORDER BY enterprise, id"):
            statuses[row["id"]] = StationStatus(row["id"], row["enterprise"],
                                                row["last_heartbeat"],
                                                json.loads(row["heartbeat"] or "{}"))
        for row in self._query("SELECT station, epoch, acked_through FROM epochs"):
            if row["station"] in statuses:
                statuses[row["station"]].epochs[row["epoch"]] = row["acked_through"]
        return list(statuses.values())

    def entries(self, *, station: str | None = None, enterprise: str | None = None,
                since: str | None = None, until: str | None = None, kind: str | None = None,
                after: int = 0, limit: int = 500, newest_first: bool = False
                ) -> list[dict[str, Any]]:
        """Stored records (quarantined ones included, flagged), oldest first, paged by id."""
        where: list[str] = ["r.id > ?"]
        params: list[Any] = [after]
        for condition, value in (("r.station = ?", station), ("s.enterprise = ?", enterprise),
                                 ("r.time >= ?", since), ("r.time < ?", until),
                                 ("r.kind = ?", kind)):
            if value:
                where.append(condition)
                params.append(value)
        order = "r.id"
        if newest_first:  # by when it happened (re-timed where possible), not by arrival
            where[0] = "1"
            params.pop(0)
            order = "coalesce(r.corrected_time, r.time) DESC, r.id DESC"
        rows = self._query(
            f"SELECT r.*, s.enterprise FROM records r JOIN stations s ON s.id = r.station "
            f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?", (*params, limit))
        return [_entry_out(row) for row in rows]

    def day_summary(self, day: dt.date) -> list[dict[str, Any]]:
        return [dict(row) for row in self._query(
            """SELECT s.enterprise, count(*) AS entries, sum(r.decision = 'deny') AS denied,
                      sum(r.decision = 'admit') AS admitted
               FROM records r JOIN stations s ON s.id = r.station
               WHERE r.day = ? AND r.kind = 'entry' GROUP BY s.enterprise
               ORDER BY s.enterprise""", (day.isoformat(),))]

    def epoch_records(self, station: str, epoch: str) -> list[tuple[int, str]]:
        """(seq, digest) of everything stored for an epoch, for audits and tests."""
        return [(row["seq"], row["digest"]) for row in self._query(
            "SELECT seq, digest FROM records WHERE station = ? AND epoch = ? ORDER BY seq",
            (station, epoch))]

    # -- the bundle ---------------------------------------------------------------------------

    def _bump(self) -> tuple[str, Sequence[Any]]:
        return ("UPDATE bundle_meta SET counter = counter + 1, changed = ? WHERE id = 1",
                (now_cst().isoformat(timespec="seconds"),))

    def add_trust_key(self, entry: dict[str, Any]) -> None:
        text = json.dumps(entry, sort_keys=True, ensure_ascii=False)
        try:
            self._write([("INSERT INTO trust_keys VALUES (?, ?, ?)",
                          (entry["kid"], text, now_cst().isoformat(timespec="seconds"))),
                         self._bump()])
        except sqlite3.IntegrityError:
            raise StoreError(f"key {entry['kid']} is already in the trust list") from None

    def revoke(self, subject: str, before: int) -> None:
        self._write([("INSERT INTO revocations VALUES (?, ?) ON CONFLICT (sub) DO UPDATE "
                      "SET before = max(before, excluded.before)", (subject, before)),
                     self._bump()])

    def set_rule(self, key: str, value: Any) -> None:
        self._write([("INSERT INTO rules VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                      "SET value = excluded.value", (key, json.dumps(value))), self._bump()])

    def unset_rule(self, key: str) -> None:
        self._write([("DELETE FROM rules WHERE key = ?", (key,)), self._bump()])

    def bundle(self) -> dict[str, Any]:
        meta = self._query("SELECT counter, changed FROM bundle_meta WHERE id = 1")[0]
        keys = [json.loads(row["entry"]) for row in
                self._query("SELECT entry FROM trust_keys ORDER BY rowid")]
        revocations = [{"sub": row["sub"], "before": row["before"]} for row in
                       self._query("SELECT sub, before FROM revocations ORDER BY sub")]
        rules = {row["key"]: json.loads(row["value"]) for row in
                 self._query("SELECT key, value FROM rules ORDER BY key")}
        return {"version": f"{meta['changed']}#{meta['counter']}",
                "trust": {"keys": keys, "revocations": revocations}, "rules": rules}


def _entry_out(row: sqlite3.Row) -> dict[str, Any]:
    raw = json.loads(row["raw"])
    out = {"id": row["id"], "station": row["station"], "enterprise": row["enterprise"],
           "epoch": row["epoch"], "seq": row["seq"], "received": row["received"],
           "corrected_time": row["corrected_time"], "quarantined": bool(row["quarantined"]),
           "error": row["error"]}
    if not row["quarantined"]:
        out.update({k: v for k, v in raw.items() if k not in out})
    else:
        out["raw"] = raw
    return out

