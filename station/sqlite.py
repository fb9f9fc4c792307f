"""The project's one way to open a SQLite database and run a write transaction.

Why plain `sqlite3` and not sqlite-utils: every write here must be one explicit transaction
(an entry and its alarm commit together or not at all), and sqlite-utils' writes commit as
they go; its query helper was the only part used, and `sqlite3` does that as well without
the import cost on a Pi. Connections are opened in autocommit mode
(`isolation_level=None`) so that `transaction()` alone decides where a transaction starts
and ends.

Durability settings (DESIGN.md, known pitfalls): WAL with `synchronous=FULL`, since WAL with
`NORMAL` can lose the last commits on power loss. A new database file is created 0600, in
folders made durably, and its directory fsynced (`station.files.create_private`): the file
itself survives a power cut right after creation.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from station.files import create_private

BUSY_TIMEOUT_MS = 5000


def connect(path: Path, *, readonly: bool = False, create: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode with a busy timeout; writers get WAL + FULL.

    `readonly` opens with `mode=ro` (and `immutable=1` when no writer has the file open: a
    read-only connection cannot create the `-wal`/`-shm` files). Without `create`, a missing
    file is FileNotFoundError rather than a new empty database. Raises sqlite3.Error/OSError.
    """
    if readonly:
        uri = f"file:{path.resolve()}?mode=ro"
        if not _sidecar(path, "-wal").exists() and not _sidecar(path, "-shm").exists():
            uri += "&immutable=1"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return conn
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"{path}: no database here")
        create_private(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One `BEGIN IMMEDIATE` write transaction: committed when the block ends, rolled back
    (and the exception re-raised) when it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def statements(script: str) -> list[str]:
    """The SQL statements of a script, split where SQLite itself says a statement ends
    (`sqlite3.complete_statement`, so a `;` inside a string or a trigger body stays put)."""
    found, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                found.append(pending.strip())
            pending = ""
    if pending.strip(" \t\r\n;"):
        found.append(pending.strip())
    return found


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run a schema or migration script inside the current transaction, statement by
    statement (`executescript` would commit what is pending first)."""
    for statement in statements(script):
        conn.execute(statement)


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)
