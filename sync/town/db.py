"""The town database file: creating it, opening it, migrating it, and the one transaction
helper every write goes through.

A town database is made only by `town-server db init` (`create_database`); every other
command opens an existing one with `open_database`, which refuses a missing file (no folder or
empty file is ever made by a typo) and a file of another schema version (`db upgrade` migrates
an older one). The file and its WAL/SHM companions are mode 0600 whatever the umask: they
hold personal data and token hashes. SQLite gives the -wal and -shm files the database
file's own permissions.

Writes run in `Database.transaction()`: `BEGIN IMMEDIATE` (the write lock is taken at the
start, so two processes never both read-then-write), COMMIT on success, ROLLBACK on any
exception. `synchronous=FULL` in WAL mode: once the server answers `acked_through`, a station
may purge those records, so an answered commit must survive a power cut.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from station import sqlite
from station.errors import StationError
from sync.town import texts

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE stations (
    id TEXT PRIMARY KEY, enterprise TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL, disabled TEXT, last_heartbeat TEXT, heartbeat TEXT);
CREATE TABLE admin_tokens (
    id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL,
    note TEXT, revoked TEXT);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY, admin_id INTEGER NOT NULL, csrf TEXT NOT NULL,
    created TEXT NOT NULL, expires TEXT NOT NULL);
CREATE TABLE epochs (
    station TEXT NOT NULL, epoch TEXT NOT NULL, acked_through INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL, PRIMARY KEY (station, epoch));
CREATE TABLE records (
    id INTEGER PRIMARY KEY, station TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL,
    digest TEXT NOT NULL, quarantined INTEGER NOT NULL DEFAULT 0, error TEXT,
    received TEXT NOT NULL, event_id TEXT, kind TEXT, time TEXT, corrected_time TEXT,
    clock_synced INTEGER, day TEXT, subject TEXT, name TEXT, color TEXT, decision TEXT,
    reasons TEXT, temperature_c REAL, raw TEXT NOT NULL, device TEXT, ref_event_id TEXT,
    simulated INTEGER NOT NULL DEFAULT 0, purged INTEGER NOT NULL DEFAULT 0,
    UNIQUE (station, epoch, seq));
CREATE INDEX records_kind ON records (kind, id);
CREATE INDEX records_station ON records (station, id);
CREATE INDEX records_day ON records (day, station);
CREATE INDEX records_ack ON records (station, epoch, ref_event_id) WHERE kind = 'ack';
CREATE TABLE write_offs (
    station TEXT NOT NULL, epoch TEXT NOT NULL, first_seq INTEGER NOT NULL,
    through INTEGER NOT NULL, at TEXT NOT NULL, who TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE TABLE trust_keys (kid TEXT NOT NULL, entry TEXT NOT NULL UNIQUE, added TEXT NOT NULL);
CREATE TABLE revocations (sub TEXT PRIMARY KEY, before INTEGER NOT NULL);
CREATE TABLE rules (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE bundle_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL,
    changed TEXT NOT NULL, serial INTEGER NOT NULL DEFAULT 0, bundle_keys TEXT);
CREATE TABLE bundle_exports (
    serial INTEGER PRIMARY KEY, generation INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE bundles (
    serial INTEGER PRIMARY KEY, generation INTEGER NOT NULL, envelope TEXT NOT NULL,
    kid TEXT NOT NULL, issued_at TEXT NOT NULL, expires TEXT NOT NULL, created TEXT NOT NULL,
    how TEXT NOT NULL);
"""

# Schema 1 is the first release's (tables made with CREATE IF NOT EXISTS, user_version 0).
MIGRATIONS: dict[int, str] = {
    1: """
ALTER TABLE stations ADD COLUMN disabled TEXT;
CREATE TABLE admin_tokens_v2 (
    id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL,
    note TEXT, revoked TEXT);
INSERT INTO admin_tokens_v2 (token_hash, created, note)
    SELECT token_hash, created, note FROM admin_tokens ORDER BY created;
DROP TABLE admin_tokens;
ALTER TABLE admin_tokens_v2 RENAME TO admin_tokens;
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY, admin_id INTEGER NOT NULL, csrf TEXT NOT NULL,
    created TEXT NOT NULL, expires TEXT NOT NULL);
ALTER TABLE records ADD COLUMN device TEXT;
ALTER TABLE records ADD COLUMN ref_event_id TEXT;
ALTER TABLE records ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE records ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;
CREATE INDEX records_ack ON records (station, epoch, ref_event_id) WHERE kind = 'ack';
CREATE TABLE write_offs (
    station TEXT NOT NULL, epoch TEXT NOT NULL, first_seq INTEGER NOT NULL,
    through INTEGER NOT NULL, at TEXT NOT NULL, who TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE TABLE bundle_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL,
    changed TEXT NOT NULL, serial INTEGER NOT NULL DEFAULT 0, bundle_keys TEXT);
INSERT INTO bundle_state (id, generation, changed) SELECT 1, counter, changed FROM bundle_meta;
DROP TABLE bundle_meta;
CREATE TABLE bundle_exports (
    serial INTEGER PRIMARY KEY, generation INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE bundles (
    serial INTEGER PRIMARY KEY, generation INTEGER NOT NULL, envelope TEXT NOT NULL,
    kid TEXT NOT NULL, issued_at TEXT NOT NULL, expires TEXT NOT NULL, created TEXT NOT NULL,
    how TEXT NOT NULL);
""",
}


class StoreError(StationError):
    """The town's database could not be opened or used; the message is one line for people."""


class Database:
    """One SQLite connection, shared by the server's threads behind a lock."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._conn = connection
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The one way to write: the project's SQLite transaction (`station.sqlite`: BEGIN
        IMMEDIATE … COMMIT, ROLLBACK on any exception), one thread at a time."""
        with self._lock, sqlite.transaction(self._conn) as conn:
            yield conn

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
              ) -> list[sqlite3.Row]:
        """Rows of one read; `params` positional (`?`) or named (`:name` with a dict)."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _connect(path: Path) -> sqlite3.Connection:
    """An existing database through the project's one SQLite helper (`station.sqlite`: WAL,
    synchronous=FULL, autocommit so that transactions are explicit); never creates a file."""
    conn = sqlite.connect(path, create=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")  # several server processes share the file
    return conn


def schema_version(conn: sqlite3.Connection) -> int | None:
    """This file's schema version: 1 for the first release, None for a file that holds no
    town database at all."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version:
        return version
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = "
                                             "'table'")}
    return 1 if {"stations", "records", "bundle_meta"} <= tables else None


def _sqlite_problem(path: Path, error: sqlite3.Error) -> StoreError:
    return StoreError(texts.cli("db-unusable", path=path, error=error))


def create_database(path: Path) -> None:
    """`db init`: a new, empty town database at `path` (mode 0600). Refuses an existing file
    and a missing directory (the operator names where it goes; nothing is made on the way)."""
    if not path.parent.is_dir():
        raise StoreError(texts.cli("db-no-dir", path=path, parent=path.parent))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise StoreError(texts.cli("db-exists", path=path)) from None
    except OSError as error:
        raise StoreError(texts.cli("db-cannot-create", path=path, error=error)) from None
    try:
        os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask
    finally:
        os.close(fd)
    try:
        conn = _connect(path)
        try:
            with sqlite.transaction(conn):
                sqlite.run_script(conn, SCHEMA)
                conn.execute("INSERT INTO bundle_state (id, generation, changed) "
                             "VALUES (1, 0, datetime('now'))")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            conn.close()
    except sqlite3.Error as error:
        path.unlink(missing_ok=True)
        raise _sqlite_problem(path, error) from None


def open_database(path: Path) -> Database:
    """An existing town database of this version; StoreError (one line) otherwise."""
    if not path.is_file():
        raise StoreError(texts.cli("db-missing", path=path))
    try:
        conn = _connect(path)
        version = schema_version(conn)
    except sqlite3.Error as error:
        raise _sqlite_problem(path, error) from None
    if version != SCHEMA_VERSION:
        conn.close()
        if version is None:
            raise StoreError(texts.cli("db-not-town", path=path))
        key = "db-old" if version < SCHEMA_VERSION else "db-new"
        raise StoreError(texts.cli(key, path=path, version=version, wanted=SCHEMA_VERSION))
    return Database(path, conn)


def upgrade_database(path: Path, log: Callable[[str], None] = lambda _: None) -> int:
    """`db upgrade`: migrate to SCHEMA_VERSION in one transaction; the version it was."""
    if not path.is_file():
        raise StoreError(texts.cli("db-missing", path=path))
    try:
        conn = _connect(path)
    except sqlite3.Error as error:
        raise _sqlite_problem(path, error) from None
    try:
        found = schema_version(conn)
        if found is None:
            raise StoreError(texts.cli("db-not-town", path=path))
        if found > SCHEMA_VERSION:
            raise StoreError(texts.cli("db-new", path=path, version=found,
                                       wanted=SCHEMA_VERSION))
        script = "".join(MIGRATIONS[v] for v in range(found, SCHEMA_VERSION))
        if script:
            with sqlite.transaction(conn):
                sqlite.run_script(conn, script)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            for version in range(found, SCHEMA_VERSION):
                log(texts.cli("db-migrated", path=path, old=version, new=version + 1))
        os.chmod(path, 0o600)
        return found
    except sqlite3.Error as error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise _sqlite_problem(path, error) from None
    finally:
        conn.close()
