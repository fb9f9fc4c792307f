"""`town-server serve`: the town server in one process, or in several (`--workers N`).

With one worker the app runs in this process, as it always did. With N > 1, uvicorn's
supervisor binds the port and spawns N worker processes (a fresh interpreter each, so each
opens its own engine and connection pool); it restarts a worker that dies, even by SIGKILL.
Each worker builds its app from `TOWN_SERVE_SETTINGS`, a JSON copy of the command's options
in the environment. Daily retention then runs once, in the supervising process, not in every
worker.

Several workers keep every guarantee of sync.md on PostgreSQL (row locks, see
sync/town/store.py) and on SQLite (every write is BEGIN IMMEDIATE on one file, with a
busy timeout; a write still waiting after it answers 503 with Retry-After) — but on SQLite
the writes of all workers take turns on the file's one lock, so more workers add little.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ENV = "TOWN_SERVE_SETTINGS"
# The cyclic garbage collector's thresholds while serving (Python's are 700, 10, 10). A push
# of 200 records makes over a thousand dicts, lists and tuples, none of them in a cycle (they
# go by reference counting), so at 700 the collector ran several times per push over every
# push in flight: about a sixth of the server's CPU (perf, bench/sync.py ingest).
GC_THRESHOLDS = (10_000, 20, 50)


@dataclass(frozen=True)
class ServeOptions:
    """What every worker needs to build the same app."""

    db: str
    silent_after_s: float
    bundle_key: str | None
    bundle_lifetime_s: float
    retention_days: int
    locale: str = "zh_CN"  # the dashboard's language when the browser has not chosen one

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeOptions:
        return cls(**json.loads(os.environ[ENV]))


def build_app(options: ServeOptions, *, retention: bool) -> Any:
    """The app on its own store (opened here: in the worker process that serves it)."""
    from sync.town.app import Settings, create_app
    from sync.town.signing import load_bundle_key
    from sync.town.store import SqlTownStore

    key = load_bundle_key(Path(options.bundle_key)) if options.bundle_key else None
    settings = Settings(silent_after=dt.timedelta(seconds=options.silent_after_s),
                        bundle_key=key,
                        bundle_lifetime=dt.timedelta(seconds=options.bundle_lifetime_s),
                        retention_days=options.retention_days if retention else 0,
                        locale="en" if options.locale == "en" else "zh_CN")
    app = create_app(SqlTownStore(options.db), settings)
    tune_gc()
    return app


def tune_gc() -> None:
    """Collect garbage cycles less often while serving (`GC_THRESHOLDS`), and leave what
    start-up made (modules, the app, the routes: nearly all of the heap) out of every
    collection from now on (`gc.freeze`): a full collection then walks only what was made
    since. Cycles are still collected, only later; memory stays bounded."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def worker_app() -> Any:
    """uvicorn's factory in each worker process (`--workers N`)."""
    return build_app(ServeOptions.from_env(), retention=False)


def run(options: ServeOptions, *, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve until stopped (SIGINT/SIGTERM)."""
    import uvicorn

    common: dict[str, Any] = {"host": host, "port": port, "log_level": log_level,
                              "server_header": False}
    if workers == 1:
        uvicorn.run(build_app(options, retention=True), **common)
        return
    os.environ[ENV] = options.to_env()
    stop = threading.Event()
    if options.retention_days > 0:
        from sync.town.app import retention_loop
        from sync.town.store import SqlTownStore

        threading.Thread(target=retention_loop, name="retention", daemon=True,
                         args=(SqlTownStore(options.db), options.retention_days, stop)
                         ).start()
    try:
        uvicorn.run("sync.town.serve:worker_app", factory=True, workers=workers, **common)
    finally:
        stop.set()
