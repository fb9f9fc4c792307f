"""The town server's storage: stations, tokens, sessions, records, the signed bundle, audit.

`TownStore` is the interface the web app uses; `SqliteTownStore` implements it on one SQLite
file (sync/town/db.py opens it and owns the one transaction helper).

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
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from station.clock import CST, cst_date
from sync.town import texts
from sync.town.db import Database, StoreError, open_database
from sync.town.records import canonical, check_record, corrected_time, same_content
from sync.town.signing import (
    MAX_LIFETIME,
    KeyId,
    OpenedBundle,
    build_document,
    read_payload,
    sign,
)

__all__ = ["Conflict", "SqliteTownStore", "StoreError", "TownStore"]

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


class SqliteTownStore:
    """TownStore on one SQLite file, opened with `open_database` (it must exist)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db: Database = open_database(self.path)

    def close(self) -> None:
        self.db.close()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.db.query(sql, params)

    @staticmethod
    def _audit(conn: sqlite3.Connection, who: str, action: str, detail: str) -> None:
        conn.execute("INSERT INTO audit (at, who, action, detail) VALUES (?, ?, ?, ?)",
                     (_stamp(), who, action, detail))

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        return [dict(row) for row in self._query(
            "SELECT at, who, action, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,))]

    # -- stations and tokens -----------------------------------------------------------------

    def add_station(self, station_id: str, enterprise: str, who: str = "cli") -> str:
        """Register a station; return its bearer token (shown once, stored hashed)."""
        token = new_token()
        try:
            with self.db.transaction() as conn:
                conn.execute("INSERT INTO stations (id, enterprise, token_hash, created) "
                             "VALUES (?, ?, ?, ?)", (station_id, enterprise, token_hash(token),
                                                     _stamp()))
                self._audit(conn, who, "station-add", f"{station_id} ({enterprise})")
        except sqlite3.IntegrityError:
            raise StoreError(texts.cli("station-exists", station=station_id)) from None
        return token

    def rotate_token(self, station_id: str, who: str = "cli") -> str:
        """A new token for a station; the old one stops working at once."""
        token = new_token()
        with self.db.transaction() as conn:
            changed = conn.execute("UPDATE stations SET token_hash = ? WHERE id = ?",
                                   (token_hash(token), station_id)).rowcount
            if not changed:
                raise StoreError(texts.cli("station-unknown", station=station_id))
            self._audit(conn, who, "station-rotate-token", station_id)
        return token

    def set_disabled(self, station_id: str, disabled: bool, who: str = "cli") -> None:
        with self.db.transaction() as conn:
            changed = conn.execute("UPDATE stations SET disabled = ? WHERE id = ?",
                                   (_stamp() if disabled else None, station_id)).rowcount
            if not changed:
                raise StoreError(texts.cli("station-unknown", station=station_id))
            self._audit(conn, who, "station-disable" if disabled else "station-enable",
                        station_id)

    def new_admin_token(self, note: str = "", who: str = "cli") -> tuple[int, str]:
        token = new_token()
        with self.db.transaction() as conn:
            cursor = conn.execute("INSERT INTO admin_tokens (token_hash, created, note) "
                                  "VALUES (?, ?, ?)", (token_hash(token), _stamp(), note))
            admin_id = int(cursor.lastrowid or 0)
            self._audit(conn, who, "admin-token-new", f"{admin_id} ({note})")
        return admin_id, token

    def admin_tokens(self) -> list[AdminToken]:
        return [AdminToken(row["id"], row["created"], row["note"] or "", row["revoked"])
                for row in self._query("SELECT id, created, note, revoked FROM admin_tokens "
                                       "ORDER BY id")]

    def revoke_admin_token(self, admin_id: int, who: str = "cli") -> None:
        """Withdraw an admin token; its dashboard sessions end with it."""
        with self.db.transaction() as conn:
            changed = conn.execute("UPDATE admin_tokens SET revoked = ? WHERE id = ? AND "
                                   "revoked IS NULL", (_stamp(), admin_id)).rowcount
            if not changed and not conn.execute("SELECT 1 FROM admin_tokens WHERE id = ?",
                                                (admin_id,)).fetchone():
                raise StoreError(texts.cli("admin-token-unknown", id=admin_id))
            conn.execute("DELETE FROM sessions WHERE admin_id = ?", (admin_id,))
            self._audit(conn, who, "admin-token-revoke", str(admin_id))

    def station_for_token(self, token: str) -> Station | None:
        rows = self._query("SELECT id, enterprise, disabled FROM stations WHERE token_hash = ?",
                           (token_hash(token),))
        if not rows:
            return None
        return Station(rows[0]["id"], rows[0]["enterprise"], rows[0]["disabled"] is not None)

    def admin_for_token(self, token: str) -> Admin | None:
        rows = self._query("SELECT id, note FROM admin_tokens WHERE token_hash = ? AND "
                           "revoked IS NULL", (token_hash(token),))
        return Admin(rows[0]["id"], rows[0]["note"] or "") if rows else None

    # -- dashboard sessions ------------------------------------------------------------------

    def new_session(self, admin: Admin, ttl: dt.timedelta = SESSION_TTL) -> tuple[str, str]:
        """A server-side session: (session id for the cookie, CSRF token for forms)."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = now_cst()
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE expires < ?", (_stamp(now),))
            conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                         (token_hash(session_id), admin.id, csrf, _stamp(now),
                          _stamp(now + ttl)))
        return session_id, csrf

    def session(self, session_id: str) -> Session | None:
        rows = self._query(
            "SELECT s.csrf, s.expires, a.id, a.note FROM sessions s JOIN admin_tokens a "
            "ON a.id = s.admin_id WHERE s.id_hash = ? AND a.revoked IS NULL",
            (token_hash(session_id),))
        if not rows:
            return None
        expires = dt.datetime.fromisoformat(rows[0]["expires"])
        if expires <= now_cst():
            return None
        return Session(Admin(rows[0]["id"], rows[0]["note"] or ""), rows[0]["csrf"], expires)

    def end_session(self, session_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE id_hash = ?", (token_hash(session_id),))

    # -- ingest ---------------------------------------------------------------------------

    def ingest(self, station: str, epoch: str, clock: dict[str, Any],
               entries: Sequence[dict[str, Any]], *, simulated: bool = False
               ) -> IngestResult:
        """Store a push (entries in strictly ascending seq). Raises Conflict (nothing stored)."""
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
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO epochs VALUES (?, ?, 0, ?)",
                         (station, epoch, received_text))
            acked = int(conn.execute("SELECT acked_through FROM epochs WHERE station = ? AND "
                                     "epoch = ?", (station, epoch)).fetchone()[0])
            duplicates: set[int] = set()
            seqs = list(rows)
            for start in range(0, len(seqs), 500):
                chunk = seqs[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                        f"SELECT seq, digest, raw, purged, simulated FROM records WHERE "
                        f"station = ? AND epoch = ? AND seq IN ({marks})",
                        (station, epoch, *chunk)):
                    seq = row["seq"]
                    if not row["purged"] and (
                            bool(row["simulated"]) != simulated
                            or (row["digest"] != rows[seq][3]
                            and not same_content(json.loads(row["raw"]), by_seq[seq]))):
                        raise Conflict(seq)
                    duplicates.add(seq)
            # a seq at or below acked_through with no row was purged (or written off)
            below = [seq for seq in seqs if seq <= acked and seq not in duplicates]
            if below:
                written_off = conn.execute(
                    "SELECT first_seq, through FROM write_offs WHERE station = ? AND "
                    "epoch = ?", (station, epoch)).fetchall()
                for seq in below:
                    if not any(w["first_seq"] <= seq <= w["through"] for w in written_off):
                        duplicates.add(seq)
            new_rows = [row for seq, row in rows.items() if seq not in duplicates]
            conn.executemany(
                "INSERT INTO records (station, epoch, seq, digest, quarantined, error, "
                "received, event_id, kind, time, corrected_time, clock_synced, day, "
                "subject, name, color, decision, reasons, temperature_c, raw, device, "
                "ref_event_id, simulated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?, ?, ?, ?, ?)", new_rows)
            acked = self._advance(conn, station, epoch)
        stored_bad = sorted(seq for seq in quarantined if seq not in duplicates)
        return IngestResult(epoch, acked, len(new_rows) - len(stored_bad), len(duplicates),
                            stored_bad)

    @staticmethod
    def _row(station: str, epoch: str, entry: dict[str, Any], clock: dict[str, Any],
             received: dt.datetime, received_text: str, simulated: bool) -> tuple[Any, ...]:
        text = canonical(entry)
        digest = hashlib.sha256(text.encode()).hexdigest()
        seq = entry["seq"]
        when, problem = check_record(entry)
        if when is None:
            return (station, epoch, seq, digest, 1, problem, received_text, None, None, None,
                    None, None, None, None, None, None, None, None, None, text, None, None,
                    int(simulated))
        return (station, epoch, seq, digest, 0, None, received_text, entry["event_id"],
                entry["kind"], entry["time"], corrected_time(entry, clock, received),
                int(entry["clock_synced"]), cst_date(when).isoformat(), entry.get("subject"),
                entry.get("name"), entry.get("color"), entry.get("decision"),
                json.dumps(reasons, ensure_ascii=False) if (reasons := entry.get("reasons"))
                else "[]",
                entry.get("temperature_c"), text, entry.get("device"),
                entry.get("ref_event_id"), int(simulated))

    @staticmethod
    def _advance(conn: sqlite3.Connection, station: str, epoch: str) -> int:
        acked = int(conn.execute("SELECT acked_through FROM epochs WHERE station = ? AND "
                                 "epoch = ?", (station, epoch)).fetchone()[0])
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
        conn.execute("UPDATE epochs SET acked_through = max(acked_through, ?) WHERE "
                     "station = ? AND epoch = ?", (acked, station, epoch))
        return acked

    def write_off(self, station: str, epoch: str, through: int, who: str,
                  reason: str) -> tuple[int, int]:
        """Record seqs acked_through+1..through of an epoch as lost (audited) and move
        acked_through on. Returns (first seq written off, the new acked_through)."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT acked_through FROM epochs WHERE station = ? AND "
                               "epoch = ?", (station, epoch)).fetchone()
            if row is None:
                raise StoreError(texts.cli("epoch-unknown", station=station, epoch=epoch))
            acked = int(row[0])
            if through <= acked:
                raise StoreError(texts.cli("write-off-nothing", station=station, epoch=epoch,
                                           acked=acked))
            conn.execute("INSERT INTO write_offs VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (station, epoch, acked + 1, through, _stamp(), who, reason))
            conn.execute("UPDATE epochs SET acked_through = ? WHERE station = ? AND epoch = ?",
                         (through, station, epoch))
            self._audit(conn, who, "write-off", f"{station} epoch {epoch} seqs {acked + 1}.."
                        f"{through}: {reason}")
            return acked + 1, self._advance(conn, station, epoch)

    # -- heartbeats and status --------------------------------------------------------------

    def heartbeat(self, station: str, beat: dict[str, Any]) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE stations SET last_heartbeat = ?, heartbeat = ? WHERE id = ?",
                         (_stamp(), json.dumps(beat, ensure_ascii=False), station))

    def stations(self) -> list[StationStatus]:
        statuses = {}
        for row in self._query("SELECT id, enterprise, disabled, last_heartbeat, heartbeat "
                               "FROM stations ORDER BY enterprise, id"):
            statuses[row["id"]] = _status(row)
        for row in self._query("SELECT station, epoch, acked_through FROM epochs"):
            if row["station"] in statuses:
                statuses[row["station"]].epochs[row["epoch"]] = row["acked_through"]
        return list(statuses.values())

    def entries(self, *, station: str | None = None, enterprise: str | None = None,
                since: str | None = None, until: str | None = None, kind: str | None = None,
                after: int = 0, limit: int = 500) -> list[dict[str, Any]]:
        """Stored records (quarantined ones included, flagged), in arrival order, paged by id;
        `since`/`until` compare the corrected time (the station's where none is known)."""
        where: list[str] = ["r.id > ?", "r.purged = 0"]
        params: list[Any] = [after]
        for condition, value in (("r.station = ?", station), ("s.enterprise = ?", enterprise),
                                 ("coalesce(r.corrected_time, r.time) >= ?", since),
                                 ("coalesce(r.corrected_time, r.time) < ?", until),
                                 ("r.kind = ?", kind)):
            if value:
                where.append(condition)
                params.append(value)
        rows = self._query(
            f"SELECT r.*, s.enterprise FROM records r JOIN stations s ON s.id = r.station "
            f"WHERE {' AND '.join(where)} ORDER BY r.id LIMIT ?", (*params, limit))
        return [_entry_out(row) for row in rows]

    def alarms(self, *, handled: bool | None = None, since: str | None = None,
               until: str | None = None, enterprise: str | None = None, offset: int = 0,
               limit: int = 100) -> list[dict[str, Any]]:
        """Fever alarms (simulated and quarantined ones never), each with its latest ack,
        unhandled first, then newest first by when they happened."""
        where = ["r.kind = 'alarm'", "r.simulated = 0", "r.quarantined = 0", "r.purged = 0"]
        params: list[Any] = []
        for condition, value in (("coalesce(r.corrected_time, r.time) >= ?", since),
                                 ("coalesce(r.corrected_time, r.time) < ?", until),
                                 ("r.enterprise = ?", enterprise)):
            if value:
                where.append(condition)
                params.append(value)
        if handled is not None:
            where.append(f"ack_raw IS {'NOT ' if handled else ''}NULL")
        rows = self._query(
            f"""SELECT * FROM (
                  SELECT r.*, s.enterprise, (
                    SELECT a.raw FROM records a WHERE a.station = r.station
                      AND a.epoch = r.epoch AND a.kind = 'ack' AND a.ref_event_id = r.event_id
                      AND a.quarantined = 0 AND a.purged = 0 ORDER BY a.seq DESC LIMIT 1
                  ) AS ack_raw
                  FROM records r JOIN stations s ON s.id = r.station) r
                WHERE {' AND '.join(where)}
                ORDER BY ack_raw IS NOT NULL, coalesce(r.corrected_time, r.time) DESC, r.id DESC
                LIMIT ? OFFSET ?""", (*params, limit, offset))
        out = []
        for row in rows:
            alarm = _entry_out(row)
            alarm["ack"] = json.loads(row["ack_raw"]) if row["ack_raw"] else None
            out.append(alarm)
        return out

    def day_summary(self, day: dt.date) -> list[dict[str, Any]]:
        """Per enterprise: worker entries, admitted, denied, and the vehicles and visitors
        registered in (registration.md); simulated records never count."""
        return [dict(row) for row in self._query(
            """SELECT s.enterprise,
                      sum(r.kind = 'entry') AS entries,
                      sum(r.kind = 'entry' AND r.decision = 'deny') AS denied,
                      sum(r.kind = 'entry' AND r.decision = 'admit') AS admitted,
                      sum(r.kind = 'vehicle' AND json_extract(r.raw, '$.direction') = 'in')
                        AS vehicles,
                      sum(r.kind = 'visitor' AND json_extract(r.raw, '$.direction') = 'in')
                        AS visitors
               FROM records r JOIN stations s ON s.id = r.station
               WHERE r.day = ? AND r.kind IN ('entry', 'vehicle', 'visitor')
                 AND r.simulated = 0 AND r.purged = 0 AND r.quarantined = 0
               GROUP BY s.enterprise ORDER BY s.enterprise""", (day.isoformat(),))]

    def epoch_records(self, station: str, epoch: str) -> list[tuple[int, str]]:
        """(seq, digest) of everything stored for an epoch, for audits and tests."""
        return [(row["seq"], row["digest"]) for row in self._query(
            "SELECT seq, digest FROM records WHERE station = ? AND epoch = ? AND purged = 0 "
            "ORDER BY seq", (station, epoch))]

    def purge(self, before: dt.date, who: str) -> int:
        """Delete every record of a day before `before` (alarms and acks included); the
        number of records whose content went."""
        day = before.isoformat()
        with self.db.transaction() as conn:
            gone = conn.execute(
                "DELETE FROM records WHERE purged = 0 AND day < ? AND seq <= (SELECT "
                "acked_through FROM epochs e WHERE e.station = records.station AND "
                "e.epoch = records.epoch)", (day,)).rowcount
            gone += conn.execute(
                "UPDATE records SET purged = 1, raw = 'null', digest = '', event_id = NULL, "
                "subject = NULL, name = NULL, color = NULL, decision = NULL, reasons = NULL, "
                "temperature_c = NULL, error = NULL, ref_event_id = NULL, device = NULL "
                "WHERE purged = 0 AND day < ?", (day,)).rowcount
            # quarantined records have no day: they go by the day they were received
            gone += conn.execute(
                "DELETE FROM records WHERE purged = 0 AND day IS NULL AND received < ? AND "
                "seq <= (SELECT acked_through FROM epochs e WHERE e.station = records.station "
                "AND e.epoch = records.epoch)", (day,)).rowcount
            self._audit(conn, who, "purge", f"before {day}: {gone} records")
        return int(gone)

    # -- trust keys, revocations, rules ------------------------------------------------------

    @staticmethod
    def _changed(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE bundle_state SET generation = generation + 1, changed = ? "
                     "WHERE id = 1", (_stamp(),))

    def add_trust_key(self, entry: dict[str, Any], who: str = "cli") -> None:
        text = json.dumps(entry, sort_keys=True, ensure_ascii=False)
        try:
            with self.db.transaction() as conn:
                conn.execute("INSERT INTO trust_keys VALUES (?, ?, ?)",
                             (entry["kid"], text, _stamp()))
                self._changed(conn)
                self._audit(conn, who, "trust-add", f"{entry['kid']} ({entry.get('issuer')})")
        except sqlite3.IntegrityError:
            kid = KeyId.parse(entry["kid"])
            raise StoreError(texts.cli("trust-exists", kid_hex=kid.hex)) from None

    def remove_trust_key(self, kid: KeyId, who: str = "cli") -> None:
        with self.db.transaction() as conn:
            if not conn.execute("DELETE FROM trust_keys WHERE kid = ?", (kid.b64,)).rowcount:
                raise StoreError(texts.cli("trust-unknown", kid=f"{kid.hex} ({kid.b64})"))
            self._changed(conn)
            self._audit(conn, who, "trust-remove", kid.b64)

    def trust_keys(self) -> list[dict[str, Any]]:
        return [json.loads(row["entry"]) for row in
                self._query("SELECT entry FROM trust_keys ORDER BY rowid")]

    def revoke(self, subject: str, before: int, who: str = "cli") -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO revocations VALUES (?, ?) ON CONFLICT (sub) DO UPDATE "
                         "SET before = max(before, excluded.before)", (subject, before))
            self._changed(conn)
            self._audit(conn, who, "revoke", f"{subject} before {before}")

    def set_rule(self, key: str, value: Any, who: str = "cli") -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO rules VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                         "SET value = excluded.value", (key, json.dumps(value)))
            self._changed(conn)
            self._audit(conn, who, "rule-set", f"{key} = {json.dumps(value)}")

    def unset_rule(self, key: str, who: str = "cli") -> None:
        with self.db.transaction() as conn:
            if not conn.execute("DELETE FROM rules WHERE key = ?", (key,)).rowcount:
                known = ", ".join(r[0] for r in conn.execute("SELECT key FROM rules "
                                                             "ORDER BY key")) or "—"
                raise StoreError(texts.cli("rule-unknown", key=key, known=known))
            self._changed(conn)
            self._audit(conn, who, "rule-unset", key)

    def rules(self) -> dict[str, Any]:
        return {row["key"]: json.loads(row["value"]) for row in
                self._query("SELECT key, value FROM rules ORDER BY key")}

    def set_bundle_keys(self, spkis: list[str] | None, who: str = "cli") -> None:
        """The `bundle_keys` every bundle carries from now on (None: none)."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE bundle_state SET bundle_keys = ? WHERE id = 1",
                         (None if spkis is None else json.dumps(spkis),))
            self._changed(conn)
            self._audit(conn, who, "bundle-keys", json.dumps(spkis))

    # -- the signed bundle --------------------------------------------------------------------

    def _contents(self, conn: sqlite3.Connection) -> tuple[dict[str, Any], dict[str, Any],
                                                          list[str] | None]:
        keys = [json.loads(row[0]) for row in
                conn.execute("SELECT entry FROM trust_keys ORDER BY rowid")]
        revocations = [{"sub": row[0], "before": row[1]} for row in
                       conn.execute("SELECT sub, before FROM revocations ORDER BY sub")]
        rules = {row[0]: json.loads(row[1]) for row in
                 conn.execute("SELECT key, value FROM rules ORDER BY key")}
        (bundle_keys,) = conn.execute("SELECT bundle_keys FROM bundle_state WHERE id = 1"
                                      ).fetchone()
        return ({"keys": keys, "revocations": revocations}, rules,
                json.loads(bundle_keys) if bundle_keys else None)

    @staticmethod
    def _allocate_serial(conn: sqlite3.Connection, min_serial: int) -> int:
        """The next serial, from the database: never one handed out before."""
        conn.execute("UPDATE bundle_state SET serial = max(serial + 1, ?) WHERE id = 1",
                     (min_serial,))
        return int(conn.execute("SELECT serial FROM bundle_state WHERE id = 1").fetchone()[0])

    def raise_serial_floor(self, min_serial: int) -> None:
        """`--min-serial N`: the next serial is at least N (a restored database must never
        hand out a serial stations already saw)."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE bundle_state SET serial = max(serial, ?) WHERE id = 1",
                         (min_serial - 1,))

    def bundle_document(self, serial: int, issued_at: dt.datetime,
                        lifetime: dt.timedelta) -> dict[str, Any]:
        """The document as it would be signed now (for `bundle show` of the contents)."""
        with self.db.transaction() as conn:
            trust, rules, bundle_keys = self._contents(conn)
        return build_document(serial, issued_at, lifetime, trust, rules, bundle_keys)

    def export_bundle(self, lifetime: dt.timedelta, min_serial: int = 1,
                      now: dt.datetime | None = None, who: str = "cli") -> dict[str, Any]:
        """An unsigned document with a freshly allocated serial, for offline signing."""
        now = now or now_cst()
        with self.db.transaction() as conn:
            serial = self._allocate_serial(conn, min_serial)
            (generation,) = conn.execute("SELECT generation FROM bundle_state WHERE id = 1"
                                         ).fetchone()
            trust, rules, bundle_keys = self._contents(conn)
            document = build_document(serial, now, lifetime, trust, rules, bundle_keys)
            conn.execute("INSERT INTO bundle_exports VALUES (?, ?, ?)",
                         (serial, generation, _stamp(now)))
            self._audit(conn, who, "bundle-export", f"serial {serial}")
        return document

    def import_bundle(self, opened: OpenedBundle, who: str = "cli") -> bool:
        """Serve a bundle signed offline. False when it is already imported."""
        serial = opened.serial
        with self.db.transaction() as conn:
            exported = conn.execute("SELECT generation FROM bundle_exports WHERE serial = ?",
                                    (serial,)).fetchone()
            if exported is None:
                raise StoreError(texts.cli("bundle-not-exported", serial=serial))
            existing = conn.execute("SELECT envelope FROM bundles WHERE serial = ?",
                                    (serial,)).fetchone()
            if existing is not None:
                if json.loads(existing[0])["payload"] == opened.envelope["payload"]:
                    return False
                raise StoreError(texts.cli("bundle-other-payload", serial=serial))
            latest = conn.execute("SELECT max(serial) FROM bundles").fetchone()[0]
            if latest is not None and serial < latest:
                raise StoreError(texts.cli("bundle-older", serial=serial, latest=latest))
            self._store_bundle(conn, exported[0], opened.envelope, opened.document,
                               opened.kid, "offline")
            self._audit(conn, who, "bundle-import", f"serial {serial} by {opened.kid.hex}")
        return True

    @staticmethod
    def _store_bundle(conn: sqlite3.Connection, generation: int, envelope: dict[str, str],
                      document: dict[str, Any], kid: KeyId, how: str) -> None:
        conn.execute("INSERT INTO bundles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (document["serial"], generation, json.dumps(envelope), kid.b64,
                      document["issued_at"], document["expires"], _stamp(), how))

    def served_bundle(self) -> ServedBundle | None:
        """The newest signed bundle (what stations get), or None before the first."""
        rows = self._query("SELECT b.*, s.generation AS current FROM bundles b, bundle_state s "
                           "ORDER BY b.serial DESC LIMIT 1")
        if not rows:
            return None
        row = rows[0]
        return ServedBundle(row["serial"], json.loads(row["envelope"]), KeyId.parse(row["kid"]),
                            row["issued_at"], row["expires"], row["generation"] < row["current"])

    def sign_if_needed(self, key: Any, lifetime: dt.timedelta,
                       now: dt.datetime | None = None, who: str = "server"
                       ) -> ServedBundle | None:
        """Online signing (`serve --bundle-key`): sign a new bundle when trust keys,
        revocations or rules changed since the served one, or when it is past half its
        lifetime. Decided and done in one transaction, so several processes sign once."""
        now = now or now_cst()
        lifetime = min(lifetime, MAX_LIFETIME)
        with self.db.transaction() as conn:
            (generation,) = conn.execute("SELECT generation FROM bundle_state WHERE id = 1"
                                         ).fetchone()
            latest = conn.execute("SELECT generation, issued_at, expires FROM bundles ORDER BY "
                                  "serial DESC LIMIT 1").fetchone()
            if latest is not None:
                issued = dt.datetime.fromisoformat(latest["issued_at"])
                expires = dt.datetime.fromisoformat(latest["expires"])
                fresh = now < issued + (expires - issued) / 2
                if latest["generation"] >= generation and fresh:
                    return None
            serial = self._allocate_serial(conn, 1)
            trust, rules, bundle_keys = self._contents(conn)
            document = build_document(serial, now, lifetime, trust, rules, bundle_keys)
            envelope = sign(document, key)
            kid = KeyId.of(key.public_key())
            self._store_bundle(conn, generation, envelope, document, kid, "online")
            self._audit(conn, who, "bundle-sign", f"serial {serial} by {kid.hex}")
        return self.served_bundle()

    def served_document(self) -> dict[str, Any] | None:
        served = self.served_bundle()
        return read_payload(served.envelope) if served else None


def _status(row: sqlite3.Row) -> StationStatus:
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


def _entry_out(row: sqlite3.Row) -> dict[str, Any]:
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
