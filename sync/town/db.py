"""The town database: where it is (a SQLite file or a PostgreSQL URL), creating it, opening
it, migrating it, and the one transaction helper every write goes through.

SQLAlchemy Core (2.x) is the one layer over both engines: queries are SQL text with `:name`
parameters, written once where SQLite and PostgreSQL agree; `Database.dialect_name` lets the
store pick an engine-specific form where it pays (row locks, GREATEST, JSON fields).
Schema changes are Alembic revisions shipped inside the package (sync/town/migrations), so
an installed town-server can migrate its own database.

A town database is made only by `town-server db init` (`create_database`); every other
command opens an existing one with `open_database`, which refuses a missing file or an empty
PostgreSQL database (no folder or empty file is ever made by a typo) and a database of another
schema version (`db upgrade` migrates an older one; a newer one is refused).

SQLite: the file and its WAL/SHM companions are mode 0600 whatever the umask (they hold
personal data and token hashes; SQLite gives -wal and -shm the database file's permissions).
Writes run in `Database.transaction()`: `BEGIN IMMEDIATE` (the write lock is taken at the
start, so two processes never both read-then-write), COMMIT on success, ROLLBACK on any
exception; within one process writes take turns on a lock rather than spinning on
`database is locked`. `synchronous=FULL` in WAL mode: once the server answers
`acked_through`, a station may purge those records, so an answered commit must survive a
power cut.

PostgreSQL (psycopg 3): READ COMMITTED transactions; a write that reads then writes locks the
row it depends on first (`SELECT … FOR UPDATE` on the station's epoch row, on the one
`bundle_state` row), so several server processes serialise exactly where they must and
nowhere else. PostgreSQL's own durability (fsync on commit) is left on.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, RowMapping, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

from station import sqlite
from station.errors import StationError
from sync.town import texts

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
FIRST_REVISION = "0002"  # schema 2, the last one made without Alembic
HEAD_REVISION = "0007"
SCHEMA_VERSION = int(HEAD_REVISION)

# Schema 1 is the first release's (tables made with CREATE IF NOT EXISTS, user_version 0).
# It predates Alembic: `db upgrade` brings such a file to schema 2 with this script, stamps
# it as Alembic's first revision, and goes on from there.
LEGACY_MIGRATIONS: dict[int, str] = {
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

SQLITE_BUSY_TIMEOUT_MS = 10000  # several server processes may share the file
PG_POOL_SIZE = 8  # per process; `serve --workers N` opens up to N × (8 + 8) connections
PG_MAX_OVERFLOW = 8


class StoreError(StationError):
    """The town's database could not be opened or used; the message is one line for people."""


@dataclass(frozen=True)
class Target:
    """Where the town database is: a SQLite file (`path`) or a PostgreSQL URL. `shown` is
    how messages name it (a URL without its password)."""

    url: URL
    shown: str
    path: Path | None

    @property
    def dialect_name(self) -> str:
        return "sqlite" if self.path is not None else "postgresql"


def target(text: str | Path) -> Target:
    """`--db` as given: `postgresql://…` (psycopg 3 is used whatever driver it names) or
    a file path. StoreError for another URL scheme or a URL SQLAlchemy cannot parse."""
    raw = str(text)
    scheme = raw.partition("://")[0].lower() if "://" in raw else ""
    if not scheme:
        path = Path(raw)
        return Target(URL.create("sqlite+pysqlite", database=str(path)), raw, path)
    if scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise StoreError(texts.cli("db-url-scheme", scheme=raw.split("://")[0]))
    try:
        given = make_url(raw)
    except ArgumentError:
        raise StoreError(texts.cli("db-url-parse")) from None
    shown = unquote(given.render_as_string(hide_password=True))
    return Target(given.set(drivername="postgresql+psycopg"), shown, None)


class Tx:
    """One open transaction (or read) on a Database: SQL text with `:name` parameters."""

    def __init__(self, conn: Connection, dialect_name: str) -> None:
        self.conn = conn
        self.dialect_name = dialect_name
        self._cursor: Any = None

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[RowMapping]:
        return list(self.conn.execute(_text(sql), dict(params or {})).mappings())

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> RowMapping | None:
        return self.conn.execute(_text(sql), dict(params or {})).mappings().first()

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.conn.execute(_text(sql), dict(params or {})).scalar()

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement; the number of rows it changed."""
        return int(self.conn.execute(_text(sql), dict(params or {})).rowcount)

    def driver(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The hot path: SQL with `?` placeholders (and no `?` or `%` otherwise) straight to
        the driver's cursor in this transaction; rows as tuples. Several times cheaper per
        statement than going through SQLAlchemy's parameter handling."""
        cursor = self._driver_cursor()
        cursor.execute(self._driver_sql(sql), tuple(params))
        return list(cursor.fetchall()) if cursor.description else []

    def driver_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """`driver` for many rows of parameters (the driver's executemany)."""
        if rows:
            self._driver_cursor().executemany(self._driver_sql(sql), rows)

    def _driver_cursor(self) -> Any:
        if self._cursor is None:
            self._cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        return self._cursor

    def _driver_sql(self, sql: str) -> str:
        return sql if self.dialect_name == "sqlite" else sql.replace("?", "%s")


_TEXTS: dict[str, sa.TextClause] = {}
_EXPANDING = re.compile(r"IN \(:(\w+)\)")


def _text(sql: str) -> sa.TextClause:
    """`sqlalchemy.text`, made once per statement. `IN (:name)` takes a list."""
    clause = _TEXTS.get(sql)
    if clause is None:
        names = _EXPANDING.findall(sql)
        clause = sa.text(_EXPANDING.sub(r"IN :\1", sql))
        if names:
            clause = clause.bindparams(*(sa.bindparam(n, expanding=True) for n in names))
        if len(_TEXTS) < 4096:
            _TEXTS[sql] = clause
    return clause


class Database:
    """A town database: an SQLAlchemy engine (`engine`, `dialect_name`) and its ways in,
    `query` (one read), `reading` (several) and `transaction` (write).

    SQLite: one connection per process, used by one thread at a time (as before SQLAlchemy:
    a pool checkout costs more than the query on a small file, and writes take turns on the
    file's one lock anyway). PostgreSQL: the engine's pool, a connection per thread at work.
    """

    def __init__(self, where: Target, engine: Engine) -> None:
        self.target = where
        self.engine = engine
        self.dialect_name = engine.dialect.name
        self.path = where.path
        self._lock = threading.RLock() if self.dialect_name == "sqlite" else None
        self._shared: Connection | None = None

    @contextmanager
    def _connection(self, mode: str) -> Iterator[Connection]:
        """A connection for `mode` ("write", "read" or "single"; the SQLite begin hook reads
        it), back to its owner afterwards."""
        if self._lock is None:
            with self.engine.connect() as pooled:
                yield pooled
            return
        with self._lock:
            shared = self._shared
            if shared is None or shared.closed or shared.invalidated:
                shared = self._shared = self.engine.connect()
            shared.execution_options(town_mode=mode)
            try:
                yield shared
            finally:
                if shared.in_transaction():
                    shared.rollback()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """The one way to write: one transaction, committed when the block ends, rolled back
        (and the exception re-raised) when it raises. SQLite: BEGIN IMMEDIATE."""
        with self._connection("write") as conn, conn.begin():
            yield Tx(conn, self.dialect_name)

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        """A read-only transaction for several queries."""
        with self._connection("read") as conn, conn.begin():
            yield Tx(conn, self.dialect_name)

    def query(self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()
              ) -> list[RowMapping]:
        """Rows of one read query, indexable by column name (`row["subject"]`). `sql` takes
        `:name` parameters with a mapping (portable to both engines), or `?` with a
        sequence; `IN (:name)` takes a list. A `:word` inside a quoted literal is a
        parameter too (SQLAlchemy's `text`): write `\\:` there."""
        if not isinstance(params, Mapping):
            sql, params = _positional(sql, params)
        with self._connection("single") as conn:
            return list(conn.execute(_text(sql), dict(params)).mappings())

    def driver_query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One read on the hot path (every request's token check): `Tx.driver`'s `?` SQL,
        rows as tuples."""
        with self._connection("single") as conn:
            return Tx(conn, self.dialect_name).driver(sql, params)

    def close(self) -> None:
        if self._lock is not None:
            with self._lock:
                if self._shared is not None:
                    self._shared.close()
                    self._shared = None
        self.engine.dispose()


def _positional(sql: str, params: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """`?` placeholders (outside quoted text) as `:_pN` named ones."""
    out: list[str] = []
    names: dict[str, Any] = {}
    quote = ""
    for char in sql:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            name = f"_p{len(names)}"
            if len(names) >= len(params):
                raise StoreError(f"query has more ? than the {len(params)} parameters given")
            names[name] = params[len(names)]
            out.append(":" + name)
            continue
        out.append(char)
    if len(names) != len(params):
        raise StoreError(f"query has {len(names)} ? for {len(params)} parameters")
    return "".join(out), names


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    """An existing file through the project's one SQLite helper (`station.sqlite`: WAL,
    synchronous=FULL, autocommit so that the engine's BEGIN alone starts a transaction);
    never creates a file."""
    conn = sqlite.connect(path, create=False)
    conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    return conn


def _engine(where: Target) -> Engine:
    if where.path is not None:
        path = where.path
        engine = sa.create_engine("sqlite+pysqlite://", creator=lambda: _sqlite_connect(path),
                                  poolclass=QueuePool, pool_size=4, max_overflow=8)

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # the writer's lock at the start: no read-then-write race between processes
            mode = conn.get_execution_options().get("town_mode", "read")
            if mode == "write":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif mode == "read":
                conn.exec_driver_sql("BEGIN")
            # "single": one statement in autocommit, no transaction to begin

        return engine
    return sa.create_engine(where.url, pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW,
                            pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _problem(where: Target, error: BaseException) -> StoreError:
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    detail = " ".join(str(error).split()) or type(error).__name__
    return StoreError(texts.cli("db-unusable", path=where.shown, error=detail))


# -- schema versions ------------------------------------------------------------------------


def _tables(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def found_version(conn: Connection) -> int | str | None:
    """The schema version of the database behind `conn`: an int for one this town-server
    knows or an older one, the unknown Alembic revision (a str) for a newer one, None for a
    database that holds no town database at all (an empty one)."""
    tables = _tables(conn)
    user_version = 0
    if conn.dialect.name == "sqlite":
        user_version = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
    if "alembic_version" in tables:
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        if not isinstance(revision, str) or not revision.isdigit() or \
                not (MIGRATIONS_DIR / "versions" / f"r{revision}.py").is_file():
            return str(revision)
        return max(int(revision), user_version)
    if user_version:
        return user_version
    if {"stations", "records"} <= tables:
        return 1 if "bundle_meta" in tables else 0
    return None


def _known(version: int | str | None) -> bool:
    return isinstance(version, int) and 1 <= version <= SCHEMA_VERSION


def _refusal(where: Target, version: int | str | None) -> StoreError:
    if version is None and where.path is None:  # an empty PostgreSQL database
        return StoreError(texts.cli("db-missing", path=where.shown))
    if version is None or version == 0:
        return StoreError(texts.cli("db-not-town", path=where.shown))
    if isinstance(version, int) and version < SCHEMA_VERSION:
        return StoreError(texts.cli("db-old", path=where.shown, version=version,
                                    wanted=SCHEMA_VERSION))
    return StoreError(texts.cli("db-new", path=where.shown, version=version,
                                wanted=SCHEMA_VERSION))


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


def _migrate(conn: Connection, found: int) -> None:
    """Inside the caller's transaction: from schema `found` (0: an empty database) to head."""
    from alembic import command

    config = _alembic_config(conn)
    if found == 1:
        for statement in sqlite.statements(LEGACY_MIGRATIONS[1]):
            conn.exec_driver_sql(statement)
        found = 2
    if found >= 2 and "alembic_version" not in _tables(conn):
        command.stamp(config, FIRST_REVISION)
    command.upgrade(config, HEAD_REVISION)
    if conn.dialect.name == "sqlite":  # older town-servers read this one
        conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")


# -- the three ways in ------------------------------------------------------------------------


def create_database(where: str | Path | Target) -> None:
    """`db init`: a new town database. SQLite: a new file (mode 0600); refuses an existing
    file and a missing directory (the operator names where it goes; nothing is made on the
    way). PostgreSQL: the schema in an existing, empty database (`createdb` made it);
    refuses one that holds tables already."""
    where = where if isinstance(where, Target) else target(where)
    path = where.path
    if path is not None:
        if not path.parent.is_dir():
            raise StoreError(texts.cli("db-no-dir", path=where.shown, parent=path.parent))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise StoreError(texts.cli("db-exists", path=where.shown)) from None
        except OSError as error:
            raise StoreError(texts.cli("db-cannot-create", path=path, error=error)) from None
        try:
            os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask
        finally:
            os.close(fd)
    engine = _engine(where)
    try:
        with engine.connect() as conn:
            conn.execution_options(town_mode="write")
            with conn.begin():
                if _tables(conn):
                    raise StoreError(texts.cli("db-exists", path=where.shown))
                _migrate(conn, 0)
    except SQLAlchemyError as error:
        if path is not None:
            path.unlink(missing_ok=True)
        raise _problem(where, error) from None
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    finally:
        engine.dispose()


def open_database(where: str | Path | Target) -> Database:
    """An existing town database of this version; StoreError (one line) otherwise."""
    where = where if isinstance(where, Target) else target(where)
    if where.path is not None and not where.path.is_file():
        raise StoreError(texts.cli("db-missing", path=where.shown))
    engine = _engine(where)
    try:
        with engine.connect() as conn:
            version = found_version(conn)
    except (SQLAlchemyError, OSError) as error:
        engine.dispose()
        raise _problem(where, error) from None
    if version != SCHEMA_VERSION:
        engine.dispose()
        raise _refusal(where, version)
    return Database(where, engine)


def upgrade_database(where: str | Path | Target,
                     log: Callable[[str], None] = lambda _: None) -> int:
    """`db upgrade`: migrate to SCHEMA_VERSION in one transaction; the version it was."""
    where = where if isinstance(where, Target) else target(where)
    if where.path is not None and not where.path.is_file():
        raise StoreError(texts.cli("db-missing", path=where.shown))
    engine = _engine(where)
    try:
        with engine.connect() as conn:
            conn.execution_options(town_mode="write")
            with conn.begin():
                found = found_version(conn)
                if not _known(found):
                    raise _refusal(where, found)
                assert isinstance(found, int)
                if found < SCHEMA_VERSION:
                    _migrate(conn, found)
        for version in range(found, SCHEMA_VERSION):
            log(texts.cli("db-migrated", path=where.shown, old=version, new=version + 1))
        if where.path is not None:
            os.chmod(where.path, 0o600)
        return found
    except SQLAlchemyError as error:
        raise _problem(where, error) from None
    finally:
        engine.dispose()
