"""The town server's storage: stations, tokens, sessions, records, the signed bundle, audit.

`TownStore` is the interface the web app uses; `SqlTownStore` implements it on SQLite or
PostgreSQL through SQLAlchemy Core (sync/town/db.py opens the database and owns the one
transaction helper). Queries are SQL text with `:name` parameters, the same on both engines
except where noted (`_lock` row locks, GREATEST, JSON fields).

Concurrency (several server processes on one database): every write that reads before it
writes first locks the row its decision depends on — the (station, epoch) row for ingest and
write-off, the one `bundle_state` row for serial allocation and signing. On SQLite the
`BEGIN IMMEDIATE` of every write transaction is that lock already; on PostgreSQL it is
`SELECT … FOR UPDATE` (READ COMMITTED: after the lock is granted, every later statement sees
what the transaction that held it committed). Records are inserted with `ON CONFLICT DO
NOTHING` besides, so even a race this misses could never store a seq twice.

Ingest implements sync.md v1.1: `(station, epoch, seq)` is unique; the same key with the
same content (masked contact fields and fields present in only one version aside) is a
duplicate, with different content a conflict (nothing of the request is stored); a record
whose fields cannot be accepted is stored in quarantine with its raw JSON and counts as
stored. `acked_through` is the highest N such that every seq 1..N is stored, was stored and
purged, or was written off; it is kept per epoch and never goes down.

Purging (`purge`, `retention_days`) deletes a record's content. A purged record at or below
its epoch's `acked_through` leaves nothing; one above it (a gap still open below it) leaves a
contentless tombstone so that `acked_through` can still pass it once the gap closes. A seq at
or below `acked_through` with no row was purged: sent again, it is a duplicate, unless it
lies in a written-off range, where a late arrival is stored after all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from station.clock import CST
from sync.town import texts
from sync.town.db import Database, StoreError, Tx, open_database
from sync.town.records import canonical, check_record, corrected_time, same_content
from sync.town.signing import (
    MAX_LIFETIME,
    KeyId,
    OpenedBundle,
    build_document,
    read_payload,
    sign,
)

__all__ = ["Conflict", "SqlTownStore", "SqliteTownStore", "StoreError", "TownStore"]

SESSION_TTL = dt.timedelta(hours=12)


class Conflict(StoreError):
    """A (station, epoch, seq) already stored with different content."""

    def __init__(self, seq: int) -> None:
        super().__init__(f"seq {seq} is already stored with different content")
        self.seq = seq


def token_hash(token: str) -> str:
    """Tokens are 256-bit random strings, so one SHA-256 is a safe way to store them."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def now_cst() -> dt.datetime:
    return dt.datetime.now(CST)


def _stamp(when: dt.datetime | None = None) -> str:
    return (when or now_cst()).isoformat(timespec="seconds")


@dataclass(frozen=True)
class IngestResult:
    epoch: str
    acked_through: int
    accepted: int
    duplicates: int
    quarantined: list[int]


@dataclass(frozen=True)
class Station:
    id: str
    enterprise: str
    disabled: bool = False


@dataclass(frozen=True)
class Admin:
    id: int
    note: str


@dataclass(frozen=True)
class Session:
    admin: Admin
    csrf: str
    expires: dt.datetime


@dataclass(frozen=True)
class AdminToken:
    id: int
    created: str
    note: str
    revoked: str | None


@dataclass
class StationStatus:
    """A station as the dashboard and `stations list` show it. The heartbeat fields are
    typed here whatever an old database holds, so no page can trip over them."""

    id: str
    enterprise: str
    disabled: bool
    last_heartbeat: str | None
    backlog: int | None
    faults: list[str]
    bundle_version: str | None
    heartbeat: dict[str, Any] = field(default_factory=dict)  # the last one, as sent
    epochs: dict[str, int] = field(default_factory=dict)

    def silent_for(self, now: dt.datetime) -> dt.timedelta | None:
        if self.last_heartbeat is None:
            return None
        try:
            return now - dt.datetime.fromisoformat(self.last_heartbeat)
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True)
class ServedBundle:
    serial: int
    envelope: dict[str, str]
    kid: KeyId
    issued_at: str
    expires: str
    stale: bool  # trust keys, revocations or rules changed since it was signed


class TownStore(Protocol):
    """What the town server's web app needs from its storage."""

    def station_for_token(self, token: str) -> Station | None: ...

    def admin_for_token(self, token: str) -> Admin | None: ...

    def ingest(self, station: str, epoch: str, clock: dict[str, Any],
               entries: Sequence[dict[str, Any]], *, simulated: bool = False
               ) -> IngestResult: ...

    def heartbeat(self, station: str, beat: dict[str, Any]) -> None: ...

    def stations(self) -> list[StationStatus]: ...

    def entries(self, *, station: str | None = None, enterprise: str | None = None,
                since: str | None = None, until: str | None = None, kind: str | None = None,
                after: int = 0, limit: int = 500) -> list[dict[str, Any]]: ...

    def alarms(self, *, handled: bool | None = None, since: str | None = None,
               until: str | None = None, enterprise: str | None = None, offset: int = 0,
               limit: int = 100) -> list[dict[str, Any]]: ...

    def day_summary(self, day: dt.date) -> list[dict[str, Any]]: ...

    def served_bundle(self) -> ServedBundle | None: ...

    def sign_if_needed(self, key: Any, lifetime: dt.timedelta,
                       now: dt.datetime | None = None, who: str = "server"
                       ) -> ServedBundle | None: ...

    def new_session(self, admin: Admin, ttl: dt.timedelta = SESSION_TTL
                    ) -> tuple[str, str]: ...

    def session(self, session_id: str) -> Session | None: ...

    def end_session(self, session_id: str) -> None: ...

    def purge(self, before: dt.date, who: str) -> int: ...


RECORD_COLUMNS = ("station", "epoch", "seq", "digest", "quarantined", "error", "received",
                  "event_id", "kind", "time", "corrected_time", "clock_synced", "day",
                  "subject", "name", "color", "decision", "reasons", "temperature_c", "raw",
                  "device", "ref_event_id", "simulated")


INSERT_RECORDS = (f"INSERT INTO records ({', '.join(RECORD_COLUMNS)}) VALUES "
                  f"({', '.join(['?'] * len(RECORD_COLUMNS))}) "
                  "ON CONFLICT (station, epoch, seq) DO NOTHING")


HEARTBEAT_SLOT_MINUTES = 10


def heartbeat_slot(stamp: str) -> str:
    """The 10-minute slot of a server time stamp (`2021-02-22T07:34:09+08:00` →
    `2021-02-22T07:30`): the key of the health history's rows."""
    return stamp[:15] + "0"


def _json_list(text: Any) -> list[str]:
    """A stored JSON list of names; [] for anything else (never raises)."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _greatest(tx: Tx) -> str:
    """The two-argument maximum: SQLite's scalar max(), PostgreSQL's GREATEST."""
    return "max" if tx.dialect_name == "sqlite" else "greatest"


def _lock(tx: Tx) -> str:
    """What ends a SELECT of the row a read-then-write depends on: nothing on SQLite (BEGIN
    IMMEDIATE holds the database's write lock already), FOR UPDATE on PostgreSQL."""
    return "" if tx.dialect_name == "sqlite" else " FOR UPDATE"


def _json_text(dialect_name: str, column: str, key: str) -> str:
    """A top-level text field of a JSON text column (`key` is a constant of this module)."""
    if dialect_name == "sqlite":
        return f"json_extract({column}, '$.{key}')"
    return f"(({column})::jsonb ->> '{key}')"


class SqlTownStore:
    """TownStore on a town database made by `db init` (SQLite file or PostgreSQL URL)."""

    def __init__(self, where: str | Path) -> None:
        self.db: Database = open_database(where)
        self.path: str | Path = self.db.path or str(where)  # a Path for a SQLite file
        self._indexes: dict[str, bool] = {}

    def _has_index(self, name: str) -> bool:
        """Whether the database has the index `name` on records, looked up once per store
        (`records_when_day` for a window's entries, `records_alarm_when` for the alarm
        list: read paths that pay only with their index; schema 6 makes both, a database whose
        indexes were dropped still answers, the slow way)."""
        if name not in self._indexes:
            sql = ("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name = "
                   ":name" if self.db.dialect_name == "sqlite" else
                   "SELECT count(*) AS n FROM pg_indexes WHERE tablename = 'records' AND "
                   "indexname = :name AND schemaname = current_schema()")
            self._indexes[name] = bool(self._query(sql, {"name": name})[0]["n"])
        return self._indexes[name]

    def close(self) -> None:
        self.db.close()

    def _query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[RowMapping]:
        return self.db.query(sql, params or {})

    @staticmethod
    def _audit(tx: Tx, who: str, action: str, detail: str) -> None:
        tx.run("INSERT INTO audit (at, who, action, detail) VALUES (:at, :who, :action, "
               ":detail)", {"at": _stamp(), "who": who, "action": action, "detail": detail})

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        return [dict(row) for row in self._query(
            "SELECT at, who, action, detail FROM audit ORDER BY id DESC LIMIT :limit",
            {"limit": limit})]

    # -- stations and tokens -----------------------------------------------------------------

    def add_station(self, station_id: str, enterprise: str, who: str = "cli") -> str:
        """Register a station; return its bearer token (shown once, stored hashed)."""
        token = new_token()
        try:
            with self.db.transaction() as tx:
                tx.run("INSERT INTO stations (id, enterprise, token_hash, created) VALUES "
                       "(:id, :enterprise, :hash, :created)",
                       {"id": station_id, "enterprise": enterprise,
                        "hash": token_hash(token), "created": _stamp()})
                self._audit(tx, who, "station-add", f"{station_id} ({enterprise})")
        except IntegrityError:
            raise StoreError(texts.cli("station-exists", station=station_id)) from None
        return token

    def rotate_token(self, station_id: str, who: str = "cli") -> str:
        """A new token for a station; the old one stops working at once."""
        token = new_token()
        with self.db.transaction() as tx:
            if not tx.run("UPDATE stations SET token_hash = :hash WHERE id = :id",
                          {"hash": token_hash(token), "id": station_id}):
                raise StoreError(texts.cli("station-unknown", station=station_id))
            self._audit(tx, who, "station-rotate-token", station_id)
        return token

    def set_disabled(self, station_id: str, disabled: bool, who: str = "cli") -> None:
        with self.db.transaction() as tx:
            if not tx.run("UPDATE stations SET disabled = :disabled WHERE id = :id",
                          {"disabled": _stamp() if disabled else None, "id": station_id}):
                raise StoreError(texts.cli("station-unknown", station=station_id))
            self._audit(tx, who, "station-disable" if disabled else "station-enable",
                        station_id)

    def new_admin_token(self, note: str = "", who: str = "cli") -> tuple[int, str]:
        token = new_token()
        with self.db.transaction() as tx:
            admin_id = int(tx.scalar(
                "INSERT INTO admin_tokens (token_hash, created, note) VALUES (:hash, "
                ":created, :note) RETURNING id",
                {"hash": token_hash(token), "created": _stamp(), "note": note}))
            self._audit(tx, who, "admin-token-new", f"{admin_id} ({note})")
        return admin_id, token

    def admin_tokens(self) -> list[AdminToken]:
        return [AdminToken(row["id"], row["created"], row["note"] or "", row["revoked"])
                for row in self._query("SELECT id, created, note, revoked FROM admin_tokens "
                                       "ORDER BY id")]

    def revoke_admin_token(self, admin_id: int, who: str = "cli") -> None:
        """Withdraw an admin token; its dashboard sessions end with it."""
        with self.db.transaction() as tx:
            changed = tx.run("UPDATE admin_tokens SET revoked = :now WHERE id = :id AND "
                             "revoked IS NULL", {"now": _stamp(), "id": admin_id})
            if not changed and tx.one("SELECT 1 FROM admin_tokens WHERE id = :id",
                                      {"id": admin_id}) is None:
                raise StoreError(texts.cli("admin-token-unknown", id=admin_id))
            tx.run("DELETE FROM sessions WHERE admin_id = :id", {"id": admin_id})
            self._audit(tx, who, "admin-token-revoke", str(admin_id))

    def station_for_token(self, token: str) -> Station | None:
        rows = self.db.driver_query("SELECT id, enterprise, disabled FROM stations WHERE "
                                    "token_hash = ?", (token_hash(token),))
        if not rows:
            return None
        station_id, enterprise, disabled = rows[0]
        return Station(station_id, enterprise, disabled is not None)

    def admin_for_token(self, token: str) -> Admin | None:
        rows = self.db.driver_query("SELECT id, note FROM admin_tokens WHERE token_hash = ? "
                                    "AND revoked IS NULL", (token_hash(token),))
        return Admin(rows[0][0], rows[0][1] or "") if rows else None

    # -- dashboard sessions ------------------------------------------------------------------

    def new_session(self, admin: Admin, ttl: dt.timedelta = SESSION_TTL) -> tuple[str, str]:
        """A server-side session: (session id for the cookie, CSRF token for forms)."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = now_cst()
        with self.db.transaction() as tx:
            tx.run("DELETE FROM sessions WHERE expires < :now", {"now": _stamp(now)})
            tx.run("INSERT INTO sessions (id_hash, admin_id, csrf, created, expires) VALUES "
                   "(:id_hash, :admin_id, :csrf, :created, :expires)",
                   {"id_hash": token_hash(session_id), "admin_id": admin.id, "csrf": csrf,
                    "created": _stamp(now), "expires": _stamp(now + ttl)})
        return session_id, csrf

    def session(self, session_id: str) -> Session | None:
        rows = self._query(
            "SELECT s.csrf, s.expires, a.id, a.note FROM sessions s JOIN admin_tokens a "
            "ON a.id = s.admin_id WHERE s.id_hash = :hash AND a.revoked IS NULL",
            {"hash": token_hash(session_id)})
        if not rows:
            return None
        expires = dt.datetime.fromisoformat(rows[0]["expires"])
        if expires <= now_cst():
            return None
        return Session(Admin(rows[0]["id"], rows[0]["note"] or ""), rows[0]["csrf"], expires)

    def end_session(self, session_id: str) -> None:
        with self.db.transaction() as tx:
            tx.run("DELETE FROM sessions WHERE id_hash = :hash",
                   {"hash": token_hash(session_id)})

    # -- ingest ---------------------------------------------------------------------------

    def ingest(self, station: str, epoch: str, clock: dict[str, Any],
               entries: Sequence[dict[str, Any]], *, simulated: bool = False
               ) -> IngestResult:
        """Store a push (entries in strictly ascending seq). Raises Conflict (nothing stored).
        Two pushes of one epoch take turns on its `epochs` row (module docstring), so a
        duplicate racing its original, or a conflict racing either, is judged against
        what the other committed."""
        received = now_cst()
        received_text = received.isoformat(timespec="milliseconds")
        rows: dict[int, tuple[Any, ...]] = {}
        quarantined: set[int] = set()
        for entry in entries:
            rows[entry["seq"]] = self._row(station, epoch, entry, clock, received,
                                           received_text, simulated)
            if rows[entry["seq"]][4]:
                quarantined.add(entry["seq"])
        by_seq = {entry["seq"]: entry for entry in entries}
        # The hot path goes to the driver directly (`Tx.driver`); the SQL is the same on
        # both engines.
        with self.db.transaction() as tx:
            # the epoch's row, made if new, and locked until commit (an upsert that updates
            # takes the row lock on PostgreSQL; on SQLite BEGIN IMMEDIATE holds it already)
            ((acked,),) = tx.driver(
                "INSERT INTO epochs (station, epoch, acked_through, first_seen) VALUES "
                "(?, ?, 0, ?) ON CONFLICT (station, epoch) DO UPDATE SET "
                "acked_through = epochs.acked_through RETURNING acked_through",
                (station, epoch, received_text))
            duplicates: set[int] = set()
            seqs = list(rows)
            for start in range(0, len(seqs), 500):
                chunk = seqs[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for seq, digest, raw, purged, was_simulated in tx.driver(
                        f"SELECT seq, digest, raw, purged, simulated FROM records WHERE "
                        f"station = ? AND epoch = ? AND seq IN ({marks})",
                        (station, epoch, *chunk)):
                    if not purged and (
                            bool(was_simulated) != simulated
                            or (digest != rows[seq][3]
                            and not same_content(json.loads(raw), by_seq[seq]))):
                        raise Conflict(seq)
                    duplicates.add(seq)
            # a seq at or below acked_through with no row was purged (or written off)
            below = [seq for seq in seqs if seq <= acked and seq not in duplicates]
            if below:
                written_off = tx.driver("SELECT first_seq, through FROM write_offs WHERE "
                                        "station = ? AND epoch = ?", (station, epoch))
                for seq in below:
                    if not any(first <= seq <= through for first, through in written_off):
                        duplicates.add(seq)
            new_rows = [row for seq, row in rows.items() if seq not in duplicates]
            tx.driver_many(INSERT_RECORDS, new_rows)
            acked = self._advance(tx, station, epoch, int(acked))
        stored_bad = sorted(seq for seq in quarantined if seq not in duplicates)
        return IngestResult(epoch, acked, len(new_rows) - len(stored_bad), len(duplicates),
                            stored_bad)

    @staticmethod
    def _row(station: str, epoch: str, entry: dict[str, Any], clock: dict[str, Any],
             received: dt.datetime, received_text: str, simulated: bool) -> tuple[Any, ...]:
        """A record's values in RECORD_COLUMNS order. A record whose text holds a lone
        surrogate (JSON's `\\ud800` escape: no UTF-8 text can hold it, nor can the database
        or an answer) is quarantined, its raw JSON kept with U+FFFD in its place; its digest
        is of the text as sent (surrogates kept), so another surrogate or a real U+FFFD in
        the same seq is other content, not a duplicate."""
        text = canonical(entry)
        seq = entry["seq"]
        day: str | None
        problem: str | None
        try:
            digest = hashlib.sha256(text.encode()).hexdigest()
        except UnicodeEncodeError:
            sent = text.encode("utf-8", "surrogatepass")
            digest = hashlib.sha256(sent).hexdigest()
            text = sent.decode("utf-8", "replace")
            day, problem = None, "text must be Unicode: a lone surrogate (stored as U+FFFD)"
        else:
            day, problem = check_record(entry)
        if day is None:
            return (station, epoch, seq, digest, 1, problem, received_text, None, None, None,
                    None, None, None, None, None, None, None, None, None, text, None, None,
                    int(simulated))
        return (station, epoch, seq, digest, 0, None, received_text, entry["event_id"],
                entry["kind"], entry["time"], corrected_time(entry, clock, received),
                int(entry["clock_synced"]), day, entry.get("subject"),
                entry.get("name"), entry.get("color"), entry.get("decision"),
                json.dumps(reasons, ensure_ascii=False) if (reasons := entry.get("reasons"))
                else "[]",
                entry.get("temperature_c"), text, entry.get("device"),
                entry.get("ref_event_id"), int(simulated))

    @staticmethod
    def _advance(tx: Tx, station: str, epoch: str, acked: int) -> int:
        """Move the epoch's acked_through (`acked` now: the caller holds the epoch row's
        lock) over every stored seq that follows it."""
        start = acked
        while True:
            following = [row[0] for row in tx.driver(
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
        if acked > start:
            tx.driver(f"UPDATE epochs SET acked_through = {_greatest(tx)}(acked_through, ?) "
                      "WHERE station = ? AND epoch = ?", (acked, station, epoch))
        return acked

    def write_off(self, station: str, epoch: str, through: int, who: str,
                  reason: str) -> tuple[int, int]:
        """Record seqs acked_through+1..through of an epoch as lost (audited) and move
        acked_through on. Returns (first seq written off, the new acked_through)."""
        key = {"station": station, "epoch": epoch}
        with self.db.transaction() as tx:
            row = tx.one("SELECT acked_through FROM epochs WHERE station = :station AND "
                         "epoch = :epoch" + _lock(tx), key)
            if row is None:
                raise StoreError(texts.cli("epoch-unknown", station=station, epoch=epoch))
            acked = int(row["acked_through"])
            if through <= acked:
                raise StoreError(texts.cli("write-off-nothing", station=station, epoch=epoch,
                                           acked=acked))
            tx.run("INSERT INTO write_offs (station, epoch, first_seq, through, at, who, "
                   "reason) VALUES (:station, :epoch, :first, :through, :at, :who, :reason)",
                   {**key, "first": acked + 1, "through": through, "at": _stamp(), "who": who,
                    "reason": reason})
            tx.run("UPDATE epochs SET acked_through = :through WHERE station = :station AND "
                   "epoch = :epoch", {**key, "through": through})
            self._audit(tx, who, "write-off", f"{station} epoch {epoch} seqs {acked + 1}.."
                        f"{through}: {reason}")
            return acked + 1, self._advance(tx, station, epoch, through)

    # -- heartbeats and status --------------------------------------------------------------

    def heartbeat(self, station: str, beat: dict[str, Any]) -> None:
        """The station's last heartbeat, and its 10-minute slot of the health history
        (`heartbeats`, schema 5) in the same transaction. The station's row is updated
        first: on PostgreSQL that locks it, so two beats of one station merge their slot's
        faults one after the other."""
        at = _stamp()
        backlog = beat.get("backlog")
        backlog = backlog if isinstance(backlog, int) and not isinstance(backlog, bool) else 0
        faults = {str(f) for f in beat.get("faults") or [] if isinstance(f, str)}
        slot = heartbeat_slot(at)
        with self.db.transaction() as tx:
            tx.driver("UPDATE stations SET last_heartbeat = ?, heartbeat = ? WHERE id = ?",
                      (at, json.dumps(beat, ensure_ascii=False), station))
            known = tx.driver("SELECT faults FROM heartbeats WHERE station = ? AND slot = ?",
                              (station, slot))
            if known:
                faults |= set(_json_list(known[0][0]))
            tx.driver(
                "INSERT INTO heartbeats (station, slot, day, first_at, last_at, beats, "
                "backlog_max, backlog_last, faults) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?) "
                "ON CONFLICT (station, slot) DO UPDATE SET last_at = excluded.last_at, "
                "beats = heartbeats.beats + 1, backlog_max = "
                f"{_greatest(tx)}(heartbeats.backlog_max, excluded.backlog_max), "
                "backlog_last = excluded.backlog_last, faults = excluded.faults",
                (station, slot, at[:10], at, at, backlog, backlog,
                 json.dumps(sorted(faults), ensure_ascii=False)))

    def stations(self) -> list[StationStatus]:
        statuses = {}
        with self.db.reading() as tx:
            for row in tx.rows("SELECT id, enterprise, disabled, last_heartbeat, heartbeat "
                               "FROM stations ORDER BY enterprise, id"):
                statuses[row["id"]] = _status(row)
            for row in tx.rows("SELECT station, epoch, acked_through FROM epochs"):
                if row["station"] in statuses:
                    statuses[row["station"]].epochs[row["epoch"]] = row["acked_through"]
        return list(statuses.values())

    def entries(self, *, station: str | None = None, enterprise: str | None = None,
                since: str | None = None, until: str | None = None, kind: str | None = None,
                after: int = 0, limit: int = 500) -> list[dict[str, Any]]:
        """Stored records (quarantined ones included, flagged), in arrival order, paged by id;
        `since`/`until` compare the corrected time (the station's where none is known).

        The page's ids are found first, then their rows. A window of at most
        WINDOW_DAYS whole or partial days (`since` alone: up to the latest corrected date
        stored, `_open_window_days`), without a station or enterprise, is read day by
        day from the `records_when_day` index when the database has it (each day's ids in
        id order, merged: the LIMIT stops every scan early). Otherwise the ids of a time
        window come from a range of the same index (the dates `since` and `until` start
        with: `_date_bounds`) and are sorted (`id + 0` keeps the planner from walking the
        primary key through every older row in the hope of a match): that reads all of the
        window's index entries for every page."""
        where: list[str] = ["r.id > :after", "r.purged = 0"]
        params: dict[str, Any] = {"after": after, "limit": limit}
        for name, condition, value in (
                ("station", "r.station = :station", station),
                ("enterprise", "s.enterprise = :enterprise", enterprise),
                ("since", "coalesce(r.corrected_time, r.time) >= :since", since),
                ("until", "coalesce(r.corrected_time, r.time) < :until", until),
                ("kind", "r.kind = :kind", kind)):
            if value:
                where.append(condition)
                params[name] = value
        join = " JOIN stations s ON s.id = r.station" if enterprise else ""
        days = window_days(since, until) if not (station or enterprise) else None
        if days is None and since and not (until or station or enterprise):
            days = self._open_window_days(since)
        if days is not None and self._has_index("records_when_day"):
            # one id-ordered index range per day of the window, each stopping at `limit`
            # rows, merged (a Merge Append): a page costs `limit` index entries, not the
            # window's every entry sorted by id
            branches = []
            for number, day in enumerate(days):
                params[f"day{number}"] = day
                branches.append(
                    f"SELECT * FROM (SELECT r.id FROM records r WHERE {' AND '.join(where)} "
                    f"AND {WHEN_DAY} = :day{number} "
                    f"ORDER BY r.id LIMIT :limit) d{number}")
            ids = f"SELECT id FROM ({' UNION ALL '.join(branches)}) u ORDER BY id LIMIT :limit"
        else:
            where += _date_bounds(since, until, params)
            order = "r.id + 0" if since or until else "r.id"
            ids = (f"SELECT r.id FROM records r{join} WHERE {' AND '.join(where)} "
                   f"ORDER BY {order} LIMIT :limit")
        rows = self._query(
            f"SELECT r.*, s.enterprise FROM records r JOIN stations s ON s.id = r.station "
            f"WHERE r.id IN ({ids}) ORDER BY r.id", params)
        return [_entry_out(row) for row in rows]

    def _open_window_days(self, since: str) -> list[str] | None:
        """The days an open window (`since` alone) can hold today: from since's date to the
        latest corrected date stored (one entry of `records_when_day`), when at most
        WINDOW_DAYS; else None. A record stored after this look has a larger id than any
        the page returns, so a later page or poll finds it, as with any read."""
        if not self._has_index("records_when_day"):
            return None
        latest = self._query(f"SELECT max({WHEN_DAY}) AS day FROM records r "
                             "WHERE r.purged = 0")[0]["day"]
        return window_days(since, latest) if isinstance(latest, str) else None

    def alarms(self, *, handled: bool | None = None, since: str | None = None,
               until: str | None = None, enterprise: str | None = None, offset: int = 0,
               limit: int = 100) -> list[dict[str, Any]]:
        """Fever alarms (simulated and quarantined ones never), each with its latest ack,
        unhandled first, then newest first by when they happened.

        The page's ids first, then the page's rows and their latest acks. With the
        `records_alarm_when` index (when the database has it) the ids come newest first
        from it, unhandled then handled, each walk stopping at offset + limit
        (`_alarm_page`); otherwise every alarm of all time is joined once with the set of
        acked event ids (a merge join of two indexes) and sorted."""
        where = ["r.kind = 'alarm'", "r.simulated = 0", "r.quarantined = 0", "r.purged = 0"]
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        for name, condition, value in (
                ("since", "coalesce(r.corrected_time, r.time) >= :since", since),
                ("until", "coalesce(r.corrected_time, r.time) < :until", until),
                ("enterprise", "s.enterprise = :enterprise", enterprise)):
            if value:
                where.append(condition)
                params[name] = value
        # the stations only when an enterprise is asked for (every alarm of all time would
        # be joined with its station for nothing)
        join = " JOIN stations s ON s.id = r.station" if enterprise else ""
        if self._has_index("records_alarm_when"):
            page = self._alarm_page(where, join, params, handled, offset, limit)
            if not page:
                return []
            params["page"] = page
            ids = ":page"
        else:
            if handled is not None:
                where.append(f"k.ref_event_id IS {'NOT ' if handled else ''}NULL")
            ids = f"""
                  SELECT r.id FROM records r{join}
                  LEFT JOIN (SELECT DISTINCT station, epoch, ref_event_id FROM records
                             WHERE kind = 'ack' AND quarantined = 0 AND purged = 0) k
                    ON k.station = r.station AND k.epoch = r.epoch
                    AND k.ref_event_id = r.event_id
                  WHERE {' AND '.join(where)}
                  ORDER BY k.ref_event_id IS NOT NULL,
                           coalesce(r.corrected_time, r.time) DESC, r.id DESC
                  LIMIT :limit OFFSET :offset"""
        rows = self._query(
            f"""SELECT * FROM (SELECT r.*, s.enterprise, (
                  SELECT a.raw FROM records a WHERE a.station = r.station
                    AND a.epoch = r.epoch AND a.kind = 'ack' AND a.ref_event_id = r.event_id
                    AND a.quarantined = 0 AND a.purged = 0 ORDER BY a.seq DESC LIMIT 1
                ) AS ack_raw
                FROM records r JOIN stations s ON s.id = r.station
                WHERE r.id IN ({ids})) r
                ORDER BY r.ack_raw IS NOT NULL, coalesce(r.corrected_time, r.time) DESC,
                         r.id DESC""", params)
        out = []
        for row in rows:
            alarm = _entry_out(row)
            alarm["ack"] = json.loads(row["ack_raw"]) if row["ack_raw"] else None
            out.append(alarm)
        return out

    def _alarm_page(self, where: list[str], join: str, params: dict[str, Any],
                    handled: bool | None, offset: int, limit: int) -> list[int]:
        """The ids of an alarm page, read newest first from `records_alarm_when`: the
        unhandled ones (an ack lookup each, stopping at offset + limit), then, if the page
        is not full yet, the handled ones the same way."""
        wanted = offset + limit
        ack = ("EXISTS (SELECT 1 FROM records a WHERE a.station = r.station "
               "AND a.epoch = r.epoch AND a.ref_event_id = r.event_id AND a.kind = 'ack' "
               "AND a.quarantined = 0 AND a.purged = 0)")
        # SQLite without ANALYZE statistics prefers records_kind (kind = 'alarm') and then
        # sorts every alarm; name the index (this path runs only when it exists)
        indexed = " INDEXED BY records_alarm_when" if self.db.dialect_name == "sqlite" else ""
        found: list[int] = []
        for acked in (False, True):
            if handled is not None and handled != acked:
                continue
            rows = self._query(
                f"SELECT r.id FROM records r{indexed}{join} WHERE {' AND '.join(where)} "
                f"AND {'' if acked else 'NOT '}{ack} "
                f"ORDER BY coalesce(r.corrected_time, r.time) DESC, r.id DESC LIMIT :wanted",
                {**params, "wanted": wanted - len(found)})
            found += [int(row["id"]) for row in rows]
            if len(found) >= wanted:
                break
        return found[offset:offset + limit]

    def day_summary(self, day: dt.date) -> list[dict[str, Any]]:
        """Per enterprise: worker entries, admitted, denied, and the vehicles and visitors
        registered in (registration.md); simulated records never count. Entries are counted
        from the `records_day_kind` index alone, per (station, decision) in the index's own
        order (no sort, no hash), and only those few hundred counts are joined with the
        stations for their enterprise (joining each of a district day's ~160,000 entries
        first cost 2-4 times as much); only vehicles and visitors (few) are read for their
        direction."""
        direction = _json_text(self.db.dialect_name, "r.raw", "direction")
        counted = "r.day = :day AND r.simulated = 0 AND r.purged = 0 AND r.quarantined = 0"
        params = {"day": day.isoformat()}
        out: dict[str, dict[str, Any]] = {}
        for row in self._query(
                f"""SELECT s.enterprise, CAST(sum(c.n) AS BIGINT) AS entries,
                          CAST(sum(CASE WHEN c.decision = 'deny' THEN c.n ELSE 0 END)
                               AS BIGINT) AS denied,
                          CAST(sum(CASE WHEN c.decision = 'admit' THEN c.n ELSE 0 END)
                               AS BIGINT) AS admitted
                   FROM (SELECT r.station, r.decision, count(*) AS n FROM records r
                         WHERE r.kind = 'entry' AND {counted}
                         GROUP BY r.station, r.decision) c
                   JOIN stations s ON s.id = c.station
                   GROUP BY s.enterprise""", params):
            out[row["enterprise"]] = {**dict(row), "vehicles": 0, "visitors": 0}
        for row in self._query(
                f"""SELECT s.enterprise,
                          sum(CASE WHEN r.kind = 'vehicle' THEN 1 ELSE 0 END) AS vehicles,
                          sum(CASE WHEN r.kind = 'visitor' THEN 1 ELSE 0 END) AS visitors
                   FROM records r JOIN stations s ON s.id = r.station
                   WHERE r.kind IN ('vehicle', 'visitor') AND {counted}
                     AND {direction} = 'in'
                   GROUP BY s.enterprise""", params):
            summary = out.setdefault(row["enterprise"], {
                "enterprise": row["enterprise"], "entries": 0, "denied": 0, "admitted": 0})
            summary.update(vehicles=row["vehicles"], visitors=row["visitors"])
        return [out[name] for name in sorted(out)]

    def epoch_records(self, station: str, epoch: str) -> list[tuple[int, str]]:
        """(seq, digest) of everything stored for an epoch, for audits and tests."""
        return [(row["seq"], row["digest"]) for row in self._query(
            "SELECT seq, digest FROM records WHERE station = :station AND epoch = :epoch AND "
            "purged = 0 ORDER BY seq", {"station": station, "epoch": epoch})]

    def purge(self, before: dt.date, who: str) -> int:
        """Delete every record of a day before `before` (alarms and acks included); the
        number of records whose content went."""
        day = before.isoformat()
        with self.db.transaction() as tx:
            gone = tx.run(
                "DELETE FROM records WHERE purged = 0 AND day < :day AND seq <= (SELECT "
                "acked_through FROM epochs e WHERE e.station = records.station AND "
                "e.epoch = records.epoch)", {"day": day})
            gone += tx.run(
                "UPDATE records SET purged = 1, raw = 'null', digest = '', event_id = NULL, "
                "subject = NULL, name = NULL, color = NULL, decision = NULL, reasons = NULL, "
                "temperature_c = NULL, error = NULL, ref_event_id = NULL, device = NULL "
                "WHERE purged = 0 AND day < :day", {"day": day})
            # quarantined records have no day: they go by the day they were received
            gone += tx.run(
                "DELETE FROM records WHERE purged = 0 AND day IS NULL AND received < :day AND "
                "seq <= (SELECT acked_through FROM epochs e WHERE e.station = records.station "
                "AND e.epoch = records.epoch)", {"day": day})
            slots = tx.run("DELETE FROM heartbeats WHERE day < :day", {"day": day})
            self._audit(tx, who, "purge",
                        f"before {day}: {gone} records, {slots} heartbeat slots")
        return int(gone)

    # -- trust keys, revocations, rules ------------------------------------------------------

    @staticmethod
    def _changed(tx: Tx) -> None:
        tx.run("UPDATE bundle_state SET generation = generation + 1, changed = :now "
               "WHERE id = 1", {"now": _stamp()})

    def add_trust_key(self, entry: dict[str, Any], who: str = "cli") -> None:
        text = json.dumps(entry, sort_keys=True, ensure_ascii=False)
        try:
            with self.db.transaction() as tx:
                tx.run("INSERT INTO trust_keys (kid, entry, added) VALUES (:kid, :entry, "
                       ":added)", {"kid": entry["kid"], "entry": text, "added": _stamp()})
                self._changed(tx)
                self._audit(tx, who, "trust-add", f"{entry['kid']} ({entry.get('issuer')})")
        except IntegrityError:
            kid = KeyId.parse(entry["kid"])
            raise StoreError(texts.cli("trust-exists", kid_hex=kid.hex)) from None

    def remove_trust_key(self, kid: KeyId, who: str = "cli") -> None:
        with self.db.transaction() as tx:
            if not tx.run("DELETE FROM trust_keys WHERE kid = :kid", {"kid": kid.b64}):
                raise StoreError(texts.cli("trust-unknown", kid=f"{kid.hex} ({kid.b64})"))
            self._changed(tx)
            self._audit(tx, who, "trust-remove", kid.b64)

    def trust_keys(self) -> list[dict[str, Any]]:
        with self.db.reading() as tx:
            return [json.loads(row["entry"]) for row in tx.rows(_TRUST_KEYS[tx.dialect_name])]

    def revoke(self, subject: str, before: int, who: str = "cli") -> None:
        with self.db.transaction() as tx:
            tx.run("INSERT INTO revocations (sub, before) VALUES (:sub, :before) "
                   f"ON CONFLICT (sub) DO UPDATE SET before = {_greatest(tx)}("
                   "revocations.before, excluded.before)", {"sub": subject, "before": before})
            self._changed(tx)
            self._audit(tx, who, "revoke", f"{subject} before {before}")

    def set_rule(self, key: str, value: Any, who: str = "cli") -> None:
        with self.db.transaction() as tx:
            tx.run("INSERT INTO rules (key, value) VALUES (:key, :value) ON CONFLICT (key) "
                   "DO UPDATE SET value = excluded.value", {"key": key,
                                                            "value": json.dumps(value)})
            self._changed(tx)
            self._audit(tx, who, "rule-set", f"{key} = {json.dumps(value)}")

    def unset_rule(self, key: str, who: str = "cli") -> None:
        with self.db.transaction() as tx:
            if not tx.run("DELETE FROM rules WHERE key = :key", {"key": key}):
                known = ", ".join(r["key"] for r in tx.rows("SELECT key FROM rules "
                                                            "ORDER BY key")) or "—"
                raise StoreError(texts.cli("rule-unknown", key=key, known=known))
            self._changed(tx)
            self._audit(tx, who, "rule-unset", key)

    def rules(self) -> dict[str, Any]:
        return {row["key"]: json.loads(row["value"]) for row in
                self._query("SELECT key, value FROM rules ORDER BY key")}

    def set_bundle_keys(self, spkis: list[str] | None, who: str = "cli") -> None:
        """The `bundle_keys` every bundle carries from now on (None: none)."""
        with self.db.transaction() as tx:
            tx.run("UPDATE bundle_state SET bundle_keys = :keys WHERE id = 1",
                   {"keys": None if spkis is None else json.dumps(spkis)})
            self._changed(tx)
            self._audit(tx, who, "bundle-keys", json.dumps(spkis))

    # -- the signed bundle --------------------------------------------------------------------

    @staticmethod
    def _contents(tx: Tx) -> tuple[dict[str, Any], dict[str, Any], list[str] | None]:
        keys = [json.loads(row["entry"]) for row in tx.rows(_TRUST_KEYS[tx.dialect_name])]
        revocations = [{"sub": row["sub"], "before": row["before"]} for row in
                       tx.rows("SELECT sub, before FROM revocations ORDER BY sub")]
        rules = {row["key"]: json.loads(row["value"]) for row in
                 tx.rows("SELECT key, value FROM rules ORDER BY key")}
        bundle_keys = tx.scalar("SELECT bundle_keys FROM bundle_state WHERE id = 1")
        return ({"keys": keys, "revocations": revocations}, rules,
                json.loads(bundle_keys) if bundle_keys else None)

    @staticmethod
    def _lock_bundle_state(tx: Tx) -> int:
        """Take the bundle's lock (the one `bundle_state` row); its generation."""
        return int(tx.scalar("SELECT generation FROM bundle_state WHERE id = 1" + _lock(tx)))

    @staticmethod
    def _allocate_serial(tx: Tx, min_serial: int) -> int:
        """The next serial, from the database: never one handed out before (the UPDATE
        locks the row until the transaction ends)."""
        return int(tx.scalar(f"UPDATE bundle_state SET serial = {_greatest(tx)}(serial + 1, "
                             ":min) WHERE id = 1 RETURNING serial", {"min": min_serial}))

    def raise_serial_floor(self, min_serial: int) -> None:
        """`--min-serial N`: the next serial is at least N (a restored database must never
        hand out a serial stations already saw)."""
        with self.db.transaction() as tx:
            tx.run(f"UPDATE bundle_state SET serial = {_greatest(tx)}(serial, :floor) "
                   "WHERE id = 1", {"floor": min_serial - 1})

    def bundle_document(self, serial: int, issued_at: dt.datetime,
                        lifetime: dt.timedelta) -> dict[str, Any]:
        """The document as it would be signed now (for `bundle show` of the contents)."""
        with self.db.reading() as tx:
            trust, rules, bundle_keys = self._contents(tx)
        return build_document(serial, issued_at, lifetime, trust, rules, bundle_keys)

    def export_bundle(self, lifetime: dt.timedelta, min_serial: int = 1,
                      now: dt.datetime | None = None, who: str = "cli") -> dict[str, Any]:
        """An unsigned document with a freshly allocated serial, for offline signing."""
        now = now or now_cst()
        with self.db.transaction() as tx:
            generation = self._lock_bundle_state(tx)
            serial = self._allocate_serial(tx, min_serial)
            trust, rules, bundle_keys = self._contents(tx)
            document = build_document(serial, now, lifetime, trust, rules, bundle_keys)
            tx.run("INSERT INTO bundle_exports (serial, generation, created) VALUES "
                   "(:serial, :generation, :created)",
                   {"serial": serial, "generation": generation, "created": _stamp(now)})
            self._audit(tx, who, "bundle-export", f"serial {serial}")
        return document

    def import_bundle(self, opened: OpenedBundle, who: str = "cli") -> bool:
        """Serve a bundle signed offline. False when it is already imported."""
        serial = opened.serial
        with self.db.transaction() as tx:
            self._lock_bundle_state(tx)
            exported = tx.scalar("SELECT generation FROM bundle_exports WHERE serial = "
                                 ":serial", {"serial": serial})
            if exported is None:
                raise StoreError(texts.cli("bundle-not-exported", serial=serial))
            existing = tx.scalar("SELECT envelope FROM bundles WHERE serial = :serial",
                                 {"serial": serial})
            if existing is not None:
                if json.loads(existing)["payload"] == opened.envelope["payload"]:
                    return False
                raise StoreError(texts.cli("bundle-other-payload", serial=serial))
            latest = tx.scalar("SELECT max(serial) FROM bundles")
            if latest is not None and serial < latest:
                raise StoreError(texts.cli("bundle-older", serial=serial, latest=latest))
            self._store_bundle(tx, exported, opened.envelope, opened.document, opened.kid,
                               "offline")
            self._audit(tx, who, "bundle-import", f"serial {serial} by {opened.kid.hex}")
        return True

    @staticmethod
    def _store_bundle(tx: Tx, generation: int, envelope: dict[str, str],
                      document: dict[str, Any], kid: KeyId, how: str) -> None:
        tx.run("INSERT INTO bundles (serial, generation, envelope, kid, issued_at, expires, "
               "created, how) VALUES (:serial, :generation, :envelope, :kid, :issued_at, "
               ":expires, :created, :how)",
               {"serial": document["serial"], "generation": generation,
                "envelope": json.dumps(envelope), "kid": kid.b64,
                "issued_at": document["issued_at"], "expires": document["expires"],
                "created": _stamp(), "how": how})

    def served_bundle(self) -> ServedBundle | None:
        """The newest signed bundle (what stations get), or None before the first."""
        rows = self._query("SELECT b.*, s.generation AS current_generation FROM bundles b, "
                           "bundle_state s ORDER BY b.serial DESC LIMIT 1")
        if not rows:
            return None
        row = rows[0]
        return ServedBundle(row["serial"], json.loads(row["envelope"]), KeyId.parse(row["kid"]),
                            row["issued_at"], row["expires"],
                            row["generation"] < row["current_generation"])

    def _needs_signing(self, tx: Tx, generation: int, now: dt.datetime) -> bool:
        latest = tx.one("SELECT generation, issued_at, expires FROM bundles ORDER BY "
                        "serial DESC LIMIT 1")
        if latest is None:
            return True
        issued = dt.datetime.fromisoformat(latest["issued_at"])
        expires = dt.datetime.fromisoformat(latest["expires"])
        fresh = now < issued + (expires - issued) / 2
        return not (latest["generation"] >= generation and fresh)

    def sign_if_needed(self, key: Any, lifetime: dt.timedelta,
                       now: dt.datetime | None = None, who: str = "server"
                       ) -> ServedBundle | None:
        """Online signing (`serve --bundle-key`): sign a new bundle when trust keys,
        revocations or rules changed since the served one, or when it is past half its
        lifetime. Decided and done in one transaction holding the bundle's lock, so several
        processes sign once (a lock-free look first: most calls find nothing to do)."""
        now = now or now_cst()
        lifetime = min(lifetime, MAX_LIFETIME)
        with self.db.reading() as tx:
            generation = int(tx.scalar("SELECT generation FROM bundle_state WHERE id = 1"))
            if not self._needs_signing(tx, generation, now):
                return None
        with self.db.transaction() as tx:
            generation = self._lock_bundle_state(tx)
            if not self._needs_signing(tx, generation, now):
                return None
            serial = self._allocate_serial(tx, 1)
            trust, rules, bundle_keys = self._contents(tx)
            document = build_document(serial, now, lifetime, trust, rules, bundle_keys)
            envelope = sign(document, key)
            kid = KeyId.of(key.public_key())
            self._store_bundle(tx, generation, envelope, document, kid, "online")
            self._audit(tx, who, "bundle-sign", f"serial {serial} by {kid.hex}")
        return self.served_bundle()

    def served_document(self) -> dict[str, Any] | None:
        served = self.served_bundle()
        return read_payload(served.envelope) if served else None


SqliteTownStore = SqlTownStore  # the name before PostgreSQL; tests and scripts still use it

# Trust keys in the order they were added: SQLite's rowid; PostgreSQL's table has no such
# column, so the time added (to the second), then the kid.
_TRUST_KEYS = {"sqlite": "SELECT entry FROM trust_keys ORDER BY rowid",
               "postgresql": "SELECT entry FROM trust_keys ORDER BY added, kid"}


WINDOW_DAYS = 31


def window_days(since: str | None, until: str | None) -> list[str] | None:
    """The dates (YYYY-MM-DD) a corrected time `since <= t < until` can start with, or None
    when the window is open, longer than WINDOW_DAYS or its ends do not start with a date.

    Sound for text comparison: a stored time is an ISO-8601 text starting with its date, and
    a text between two others lies, in its first ten characters, between theirs."""
    if not since or not until:
        return None
    try:
        first = dt.date.fromisoformat(since[:10])
        last = dt.date.fromisoformat(until[:10])
    except ValueError:
        return None
    if (first.isoformat(), last.isoformat()) != (since[:10], until[:10]):
        return None  # another form fromisoformat takes ("2021-W05-1"): not a text bound
    span = (last - first).days
    if span < 0 or span >= WINDOW_DAYS:
        return None
    return [(first + dt.timedelta(days=n)).isoformat() for n in range(span + 1)]


WHEN_DAY = "substr(coalesce(r.corrected_time, r.time), 1, 10)"  # records_when_day's key


def _date_bounds(since: str | None, until: str | None, params: dict[str, Any]) -> list[str]:
    """What `coalesce(corrected_time, time) >= since` (`< until`) implies of the corrected
    time's first ten characters, as conditions on `records_when_day`'s key (a range of that
    index instead of every record), with their parameters added to `params`.

    Adding them changes no answer: for any texts t and s, t >= s implies t[:10] >= s[:10]
    (were t[:10] < s[:10], t would be smaller at their first difference, or a proper prefix
    of s), and t < u implies t[:10] <= u[:10] likewise (text compared code point by code
    point, as SQLite does and PostgreSQL in the C collation). Only a bound that starts with
    a date (YYYY-MM-DD) is used."""
    out = []
    for name, value, test in (("since_day", since, ">="), ("until_day", until, "<=")):
        if value and _is_date(value[:10]):
            params[name] = value[:10]
            out.append(f"{WHEN_DAY} {test} :{name}")
    return out


def _is_date(text: str) -> bool:
    try:
        return dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _status(row: RowMapping) -> StationStatus:
    try:
        beat = json.loads(row["heartbeat"] or "{}")
    except ValueError:
        beat = {}
    if not isinstance(beat, dict):
        beat = {}
    backlog = beat.get("backlog")
    faults = beat.get("faults")
    version = beat.get("bundle_version")
    return StationStatus(
        row["id"], row["enterprise"], row["disabled"] is not None, row["last_heartbeat"],
        backlog if type(backlog) is int else None,
        [str(f) for f in faults] if isinstance(faults, list) else [],
        version if isinstance(version, str) else None, beat)


def _entry_out(row: RowMapping) -> dict[str, Any]:
    raw = json.loads(row["raw"])
    out = {"id": row["id"], "station": row["station"], "enterprise": row["enterprise"],
           "epoch": row["epoch"], "seq": row["seq"], "received": row["received"],
           "corrected_time": row["corrected_time"], "quarantined": bool(row["quarantined"]),
           "simulated": bool(row["simulated"]), "error": row["error"]}
    if not row["quarantined"]:
        out.update({k: v for k, v in raw.items() if k not in out})
    else:
        out["raw"] = raw
    return out


def constant_time_equal(a: str, b: str) -> bool:
    """Compare secrets or ids without leaking where they differ (any text, any script)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"),
                               b.encode("utf-8", "surrogatepass"))
