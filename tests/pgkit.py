"""A real PostgreSQL 15 for the town tests: a throwaway cluster started by the tests.

`PgCluster.start()` runs Debian's `initdb` and `pg_ctl` (from /usr/lib/postgresql/15/bin, or
$GATE_PG_BIN). Both refuse to run as root: as root they run as the unprivileged `nobody`
(`setpriv`), in a fresh directory under /tmp owned by it. The server listens on a unix
socket in that directory only (no TCP port to collide with), with fsync off (the tests kill
server processes, never the machine). Every test gets its own database, copied from a
template that `db init` made once.

Under CI (CI=true) a missing PostgreSQL is an error; elsewhere the tests that need it skip
with the reason (`skip_reason()`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path(os.environ.get("GATE_PG_BIN", "/usr/lib/postgresql/15/bin"))
NOBODY = 65534
SUPERUSER = "town"
TEMPLATE = "town_template"
_names = itertools.count(1)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).is_file():
            return (f"PostgreSQL 15 is not installed ({PG_BIN / tool} missing; "
                    "apt-get install postgresql)")
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "running as root without setpriv (util-linux) to start PostgreSQL unprivileged"
    return None


class PgCluster:
    """One PostgreSQL server in a temporary directory; `stop()` removes it all."""

    def __init__(self, root: Path | None = None) -> None:
        """A cluster in a new temporary directory, or in `root` (made if missing; kept by
        `stop(keep=True)` and started again by `resume()`, for benchmarks)."""
        if root is None:
            self.root = Path(tempfile.mkdtemp(prefix="gate-pg-"))
        else:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.root = root
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.started = False
        self.options = ""

    def _as_owner(self, *command: str) -> list[str]:
        if os.geteuid() != 0:
            return list(command)
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                "--reset-env", *command]

    def _run(self, *command: str, timeout: float = 120) -> None:
        result = subprocess.run(self._as_owner(*command), capture_output=True, text=True,
                                timeout=timeout, cwd="/")
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stdout[-1500:]}"
                               f"{result.stderr[-1500:]}")

    def start(self, *, durable: bool = False, settings: str = "") -> PgCluster:
        """initdb, start, and a template town database. `durable` keeps PostgreSQL's fsync
        on commit (benchmarks); the tests run without it. `settings`: more `-c` options."""
        if os.geteuid() == 0:
            os.chown(self.root, NOBODY, NOBODY)
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                  "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        options = f"-k {self.root} -c listen_addresses='' -c max_connections=300 {settings}"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        if "shared_buffers" not in settings:
            options += " -c shared_buffers=64MB"
        self.options = options
        self._pg_start()
        self.admin("CREATE DATABASE " + TEMPLATE)
        from sync.town.db import create_database

        create_database(self.url(TEMPLATE))
        return self

    def _pg_start(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "120", "-o", self.options, "start", timeout=180)
        self.started = True

    def exists(self) -> bool:
        """Whether `root` already holds a cluster (one that `stop(keep=True)` kept)."""
        return (self.data / "PG_VERSION").is_file()

    def resume(self, *, durable: bool = False, settings: str = "") -> PgCluster:
        """Start the kept cluster in `root` again (no initdb, its databases as they were).
        Raises RuntimeError when pg_ctl fails (e.g. the directory is not a cluster)."""
        options = f"-k {self.root} -c listen_addresses='' -c max_connections=300 {settings}"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self.options = options
        self._pg_start()
        return self

    def stop(self, *, keep: bool = False) -> None:
        """Stop the server and remove its directory, or with `keep` stop it cleanly (a
        fast shutdown, so `resume()` needs no recovery) and leave the directory."""
        if self.started:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m",
                          "fast" if keep else "immediate", "-w", "stop", timeout=120)
            self.started = False
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.root}"

    def admin(self, sql: str) -> None:
        """One statement outside a transaction (CREATE/DROP DATABASE), as the superuser."""
        import psycopg

        with psycopg.connect(dbname="postgres", user=SUPERUSER, host=str(self.root),
                             autocommit=True) as conn:
            conn.execute(sql.encode())

    def new_database(self, *, empty: bool = False) -> str:
        """The URL of a new database: a town database of the current schema (a copy of the
        template), or with `empty` one with no tables at all (for `db init`)."""
        name = f"t{os.getpid()}_{next(_names)}"
        self.admin(f"CREATE DATABASE {name}" + ("" if empty else f" TEMPLATE {TEMPLATE}"))
        return self.url(name)


_cluster: PgCluster | None = None
engine = "sqlite"  # the engine new town databases are made on (tests/conftest.py sets it)


def cluster() -> PgCluster:
    """The session's cluster, started on first use (tests/conftest.py stops it)."""
    global _cluster
    if _cluster is None:
        _cluster = PgCluster()
        try:
            _cluster.start()
        except BaseException:
            _cluster.stop()
            _cluster = None
            raise
    return _cluster


def stop_cluster() -> None:
    global _cluster
    if _cluster is not None:
        _cluster.stop()
        _cluster = None


def new_town_db(path: Path) -> str:
    """A new, initialised town database on the current engine: the SQLite file at `path`
    (`db init`), or a fresh PostgreSQL database (its URL)."""
    if engine == "postgresql":
        return cluster().new_database()
    from sync.town.db import create_database

    create_database(path)
    return str(path)
