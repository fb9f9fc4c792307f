"""The town server: the sync protocol's endpoints (sync.md v1.1) and the read API; the
dashboard's pages are in sync/town/dashboard.py.

An ASGI app made by `create_app(store, settings)`; `town-server serve` runs it under uvicorn.
Endpoint handlers are plain functions, so FastAPI runs them on its thread pool and the
database work never blocks the event loop. Tokens are never logged (uvicorn's access log has
no headers). Every error answer is a 4xx (or a 503 while the database is busy) with a JSON
`detail` naming the problem, never a 500.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import threading
from collections.abc import Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as SaTimeoutError

from station.clock import CST, cst_date
from station.present import write_csv
from sync.town.auth import AdminAuth, StationAuth, station_auth
from sync.town.middleware import TownMiddleware
from sync.town.records import INT64_MAX, BadJson, parse_json, parse_time
from sync.town.signing import DEFAULT_LIFETIME
from sync.town.store import Conflict, TownStore

log = logging.getLogger("town-server")
ENTRY_CSV = ("id", "station", "enterprise", "epoch", "seq", "kind", "time", "corrected_time",
             "clock_synced", "direction", "subject", "name", "color", "temperature_c",
             "decision", "reasons", "detail", "device", "simulated", "quarantined", "error",
             "received")
DEVICE_NAME = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
Int64 = Annotated[int, Query(ge=0, le=INT64_MAX)]


@dataclass
class Settings:
    silent_after: dt.timedelta = dt.timedelta(minutes=10)
    max_in_flight: int = 256  # pushes waiting for the database before 429 (0: always 429)
    bundle_key: Any = None  # an Ed25519 private key: sign bundles online (serve --bundle-key)
    bundle_lifetime: dt.timedelta = DEFAULT_LIFETIME
    retention_days: int = 0  # purge records older than this, daily (0: keep them)
    session_ttl: dt.timedelta = dt.timedelta(hours=12)
    locale: str = "zh_CN"  # the dashboard's language when the browser has not chosen one


class DirectRoute(APIRoute):
    """A route whose endpoint FastAPI calls directly, as `endpoint(request=…, <path
    parameters>=…, authorization=<the Authorization header or None>)`: no dependency
    solving, no validation, the endpoint's answer sent as it is. For the push path (100
    requests a second, 10 ms of CPU each at most), where that machinery cost half a
    millisecond a request; the endpoint's signature and docstring still make its OpenAPI
    entry. The endpoint must be a coroutine that returns a Response and checks everything
    itself."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(
                request=request, authorization=request.headers.get("authorization"),
                **request.path_params)
            return response

        return handler


def neutralise(value: Any) -> Any:
    """A CSV cell Excel will not run as a formula: text starting with =, +, -, @, tab or CR
    gets a leading apostrophe (registration.md, "Privacy")."""
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def create_app(store: TownStore, settings: Settings | None = None) -> FastAPI:
    from sync.town import dashboard, office

    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        stop = threading.Event()
        worker = None
        if settings.retention_days > 0:
            worker = threading.Thread(target=retention_loop, name="retention", daemon=True,
                                      args=(store, settings.retention_days, stop))
            worker.start()
        yield
        stop.set()
        if worker is not None:
            worker.join(timeout=5)

    app = FastAPI(title="gate-station town server", version="1.1", lifespan=lifespan,
                  description="Station ⇄ town sync protocol v1.1 (sync.md): push, signed "
                              "bundle, heartbeat; read API for town staff.",
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.settings = settings
    in_flight = threading.BoundedSemaphore(settings.max_in_flight) \
        if settings.max_in_flight else None

    # -- station endpoints -------------------------------------------------------------------

    def push(request: Request, station_id: str, authorization: str | None) -> JSONResponse:
        station = station_auth(request, station_id, authorization)
        document = _json_body(request)
        epoch, clock, entries, simulated = _push_shape(document)
        if in_flight is None or not in_flight.acquire(blocking=False):
            raise HTTPException(429, "too many pushes in flight", headers={"Retry-After": "2"})
        try:
            result = store.ingest(station.id, epoch, clock, entries, simulated=simulated)
        except Conflict as error:
            raise HTTPException(409, str(error)) from None
        finally:
            in_flight.release()
        return JSONResponse({"epoch": result.epoch, "acked_through": result.acked_through,
                             "accepted": result.accepted, "duplicates": result.duplicates,
                             "quarantined": result.quarantined})

    async def push_entries(station_id: str, request: Request,
                           authorization: Annotated[str | None, Header()] = None
                           ) -> JSONResponse:
        """Push ledger records (sync.md "Push"). Answers `epoch`, `acked_through` (every seq
        1..N of this epoch is stored, purged or written off; it never goes down),
        `accepted`, `duplicates` and the seqs put in `quarantined`. The same seq with other
        content is a 409 and nothing of the request is stored; a body that is not JSON or not
        this shape is a 400; more than 1 MiB (after gzip) a 413; busy a 429/503; a missing
        or unknown station token a 401, another station's a 403."""
        # The push path's one hop to the thread pool: the token check, parsing and the
        # database work together (a `StationAuth` dependency would be a hop of its own).
        return await run_in_threadpool(push, request, station_id, authorization)

    app.router.add_api_route("/api/v1/stations/{station_id}/entries", push_entries,
                             methods=["POST"], tags=["station"], route_class_override=DirectRoute)

    @app.get("/api/v1/stations/{station_id}/bundle", tags=["station"], response_model=None)
    def get_bundle(station_id: str, station: StationAuth,
                   if_none_match: Annotated[str | None, Header()] = None) -> Response:
        """The signed bundle (sync.md "Pull"): `{payload, alg, kid, signature}` with an ETag;
        `If-None-Match` with the current tag answers 304. 404 until a bundle was signed
        (`serve --bundle-key`, or `bundle export`/`sign`/`import`)."""
        if settings.bundle_key is not None:
            store.sign_if_needed(settings.bundle_key, settings.bundle_lifetime)
        served = store.served_bundle()
        if served is None:
            raise HTTPException(404, "the town has no signed bundle yet")
        etag = '"' + hashlib.sha256(json.dumps(served.envelope, sort_keys=True).encode()
                                    ).hexdigest()[:32] + '"'
        if if_none_match and etag in [tag.strip() for tag in if_none_match.split(",")]:
            return Response(status_code=304, headers={"ETag": etag})
        return JSONResponse(served.envelope, headers={"ETag": etag})

    @app.post("/api/v1/stations/{station_id}/heartbeat", status_code=204, tags=["station"],
              response_model=None)
    def post_heartbeat(station_id: str, station: StationAuth, request: Request) -> Response:
        """A station's heartbeat (sync.md "Heartbeat"): `time`, `clock_synced`, `version`,
        `backlog`, `faults` (device names), `bundle_version`. 204; 400 if not this shape."""
        beat = _heartbeat_shape(_json_body(request))
        store.heartbeat(station.id, beat)
        return Response(status_code=204)

    # -- town staff ------------------------------------------------------------------------

    @app.get("/api/v1/stations", tags=["town staff"])
    def list_stations(admin: AdminAuth) -> JSONResponse:
        """Every station: enterprise, last heartbeat, backlog, faults, bundle version,
        `acked_through` per epoch, and whether it is silent (no heartbeat for longer than
        `--silent-after`) or disabled."""
        now = dt.datetime.now(CST)
        out = []
        for status in store.stations():
            silent = status.silent_for(now)
            out.append({
                "id": status.id, "enterprise": status.enterprise,
                "disabled": status.disabled, "last_heartbeat": status.last_heartbeat,
                "backlog": status.backlog, "faults": status.faults,
                "bundle_version": status.bundle_version, "acked_through": status.epochs,
                "silent": silent is None or silent > settings.silent_after,
                "silent_minutes": None if silent is None else int(silent.total_seconds() // 60),
            })
        return JSONResponse(out)

    @app.get("/api/v1/entries", tags=["town staff"], response_model=None)
    def list_entries(
        admin: AdminAuth, station: str | None = None, enterprise: str | None = None,
        since: str | None = None, until: str | None = None, kind: str | None = None,
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
        limit: Annotated[int, Query(ge=1, le=10000)] = 500, after: Int64 = 0,
    ) -> Response:
        """Stored records, in arrival order, paged: JSON `{"entries": [...], "next_after":
        cursor or null}` or CSV (UTF-8 with BOM, formula cells neutralised). Each entry is
        the record as pushed plus `station`, `enterprise`, `epoch`, `received`,
        `corrected_time`, `simulated`, `quarantined` (then `raw` and `error`).
        `since`/`until` compare the corrected time."""
        rows = store.entries(station=station, enterprise=enterprise, since=since, until=until,
                             kind=kind, after=after, limit=limit)
        next_after = rows[-1]["id"] if len(rows) == limit else None
        headers = {"X-Next-After": str(next_after)} if next_after else {}
        if format == "csv":
            buffer = io.StringIO()
            write_csv(({k: neutralise(v) for k, v in row.items()} for row in rows), ENTRY_CSV,
                      buffer)
            return PlainTextResponse(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                                     headers=headers)
        return JSONResponse({"entries": rows, "next_after": next_after}, headers=headers)

    @app.get("/api/v1/alarms", tags=["town staff"])
    def list_alarms(
        admin: AdminAuth, handled: bool | None = None, since: str | None = None,
        until: str | None = None, enterprise: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100, after: Int64 = 0,
    ) -> JSONResponse:
        """Fever alarms, each with its latest `ack` (registration.md) or null, unhandled
        first, then newest first. Simulated records are never alarms. `after` is the
        `next_after` of the previous page."""
        rows = store.alarms(handled=handled, since=since, until=until, enterprise=enterprise,
                            offset=after, limit=limit)
        next_after = after + limit if len(rows) == limit else None
        return JSONResponse({"alarms": rows, "next_after": next_after})

    # -- failure answers: 4xx with a JSON detail, 503 when the database is busy ------------

    @app.exception_handler(OperationalError)
    async def database_busy(_request: Request, error: OperationalError) -> Response:
        if not database_unavailable(error):
            raise error  # a real fault (a bad query, say) is not dressed up as "busy"
        log.warning("database: %s", " ".join(str(error.orig or error).split()))
        return JSONResponse({"detail": "the town database is busy; try again"},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(SaTimeoutError)
    async def pool_exhausted(_request: Request, error: SaTimeoutError) -> Response:
        log.warning("database: no free connection: %s", error)
        return JSONResponse({"detail": "the town database is busy; try again"},
                            status_code=503, headers={"Retry-After": "5"})

    app.add_middleware(TownMiddleware)  # body limits, security headers
    dashboard.install(app)
    office.install(app)
    return app


def database_unavailable(error: OperationalError) -> bool:
    """A database that cannot answer now (try again later), not a bug in a query: SQLite's
    lock still held after the busy timeout; PostgreSQL unreachable, restarting, out of
    connections, or a deadlock/serialization failure (the transaction was rolled back)."""
    if error.connection_invalidated:
        return True
    if type(error.orig).__module__.startswith("psycopg") and \
            getattr(error.orig, "sqlstate", None) is None:
        return True  # no server answered: refused, reset, timed out
    text = str(error.orig or error)
    if text.startswith(("database is locked", "database table is locked")):
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    # 08: connection exception; 40: transaction rollback; 53: insufficient resources;
    # 57P0x: admin/crash shutdown, cannot connect now
    return isinstance(sqlstate, str) and sqlstate[:2] in ("08", "40", "53", "57")


def retention_loop(store: TownStore, days: int, stop: threading.Event) -> None:
    """Purge records older than `days`, at start and whenever the CST date changes."""
    done: dt.date | None = None
    while not stop.is_set():
        today = cst_date(dt.datetime.now(CST))
        if today != done:
            try:
                gone = store.purge(today - dt.timedelta(days=days), "retention")
                log.info("retention: purged %d records older than %d days", gone, days)
                done = today
            except (SQLAlchemyError, OSError) as error:
                log.warning("retention: purge failed, retrying: %s", error)
        stop.wait(600)


def _json_body(request: Request) -> Any:
    try:
        return parse_json(request.state.body)
    except BadJson as error:
        raise HTTPException(400, str(error)) from None


def _push_shape(document: Any) -> tuple[str, dict[str, Any], list[dict[str, Any]], bool]:
    """The request's shape per sync.md, or 400. Field errors inside records are not shape
    errors: those records go to quarantine."""
    if not isinstance(document, dict):
        raise HTTPException(400, "body must be a JSON object")
    epoch, clock, entries = document.get("epoch"), document.get("clock"), document.get("entries")
    simulated = document.get("simulated", False)
    # isprintable: no lone surrogate (UTF-8 cannot hold it: the insert would fail) and no NUL
    # or other control character (PostgreSQL text cannot hold NUL)
    if not isinstance(epoch, str) or not 1 <= len(epoch) <= 64 or not epoch.isprintable():
        raise HTTPException(400, "epoch must be text (a UUID)")
    if not isinstance(clock, dict):
        raise HTTPException(400, "clock must be an object")
    if not isinstance(entries, list):
        raise HTTPException(400, "entries must be a list")
    if not isinstance(simulated, bool):
        raise HTTPException(400, "simulated must be true or false")
    previous = 0
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise HTTPException(400, f"entries[{index}] is not an object")
        seq = entry.get("seq")
        if type(seq) is not int or not 1 <= seq <= INT64_MAX:
            raise HTTPException(400, f"entries[{index}].seq must be a whole number from 1 to "
                                     "2^63-1")
        if seq <= previous:
            raise HTTPException(400, f"entries[{index}].seq: entries must be in ascending seq")
        previous = seq
    return epoch, clock, entries, simulated


def _unicode(value: Any) -> bool:
    """Text that UTF-8 can hold: not a lone surrogate (JSON's `\\ud800` escape)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _heartbeat_shape(beat: Any) -> dict[str, Any]:
    """sync.md's heartbeat, every field typed as shown there; 400 naming the field if not."""
    if not isinstance(beat, dict):
        raise HTTPException(400, "a heartbeat is a JSON object")
    _, problem = parse_time(beat.get("time"))
    if problem:
        raise HTTPException(400, f"heartbeat: {problem}")
    if not isinstance(beat.get("clock_synced"), bool):
        raise HTTPException(400, "heartbeat: clock_synced must be true or false")
    if not _unicode(beat.get("version")) or len(beat["version"]) > 64:
        raise HTTPException(400, "heartbeat: version must be text (at most 64 characters)")
    backlog = beat.get("backlog")
    if type(backlog) is not int or not 0 <= backlog <= INT64_MAX:
        raise HTTPException(400, "heartbeat: backlog must be a whole number from 0 to 2^63-1")
    faults = beat.get("faults")
    if not isinstance(faults, list) or len(faults) > 64 or not all(
            isinstance(f, str) and 1 <= len(f) <= 32 and set(f) <= DEVICE_NAME
            for f in faults):
        raise HTTPException(400, "heartbeat: faults must be a list of device names (lower-case "
                                 "letters, digits, - and _), e.g. [\"thermometer\"]")
    version = beat.get("bundle_version")
    if version is not None and (not _unicode(version) or len(version) > 128):
        raise HTTPException(400, "heartbeat: bundle_version must be text or null")
    return beat

