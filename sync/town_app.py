"""The town server: the sync protocol's endpoints (sync.md), read API and dashboard.

An ASGI app made by `create_app(store)`; `town-server serve` runs it under uvicorn. Endpoint
handlers are plain functions, so FastAPI runs them on its thread pool and the SQLite work
never blocks the event loop. Tokens are never logged (uvicorn's access log has no headers).
"""

from __future__ import annotations

import datetime as dt
import hmac
import html
import io
import json
import logging
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse

from station.clock import CST
from station.ids import is_station_id
from station.present import write_csv
from sync.store import Conflict, Station, TownStore, token_hash

log = logging.getLogger("town-server")
MAX_BODY = 1024 * 1024
ENTRY_CSV = ("id", "station", "enterprise", "epoch", "seq", "kind", "time", "corrected_time",
             "clock_synced", "direction", "subject", "name", "color", "temperature_c",
             "decision", "reasons", "detail", "quarantined", "error", "received")


@dataclass
class Settings:
    silent_after: dt.timedelta = dt.timedelta(minutes=10)
    max_in_flight: int = 256  # pushes waiting for the database before 429 (0: always 429)


class BodyTooLarge(Exception):
    pass


def _bearer(authorization: str | None) -> str | None:
    if not authorization or not authorization.startswith("Bearer "):
        return None
    token = authorization[len("Bearer "):].strip()
    return token or None


def create_app(store: TownStore, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(title="gate-station town server", version="1",
                  description="Station ⇄ town sync protocol v1 (sync.md), read API, dashboard")
    in_flight = threading.BoundedSemaphore(settings.max_in_flight)

    def station_auth(station_id: str, authorization: str | None) -> Station:
        token = _bearer(authorization)
        station = store.station_for_token(token) if token else None
        if station is None:
            raise HTTPException(401, "missing or unknown token",
                                headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(station.id, station_id):
            raise HTTPException(403, "this token belongs to another station")
        return station

    def admin_auth(authorization: str | None, cookie: str | None = None) -> None:
        token = _bearer(authorization) or cookie
        if not token:
            raise HTTPException(401, "admin token required", headers={"WWW-Authenticate":
                                                                      "Bearer"})
        if not store.is_admin_token(token):
            if store.station_for_token(token) is not None:
                raise HTTPException(403, "station tokens cannot read town data")
            raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})

    # -- station endpoints -------------------------------------------------------------------

    @app.post("/api/v1/stations/{station_id}/entries")
    def push_entries(station_id: str, request: Request,
                     authorization: str | None = Header(default=None)) -> JSONResponse:
        station_auth(station_id, authorization)
        body: bytes = request.state.body
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise HTTPException(400, "body is not JSON") from None
        epoch, clock, entries = _push_shape(document, station_id)
        if not in_flight.acquire(blocking=False):
            raise HTTPException(429, "too many pushes in flight", headers={"Retry-After": "2"})
        try:
            result = store.ingest(station_id, epoch, clock, entries)
        except Conflict as error:
            raise HTTPException(409, str(error)) from None
        finally:
            in_flight.release()
        return JSONResponse({"acked_through": result.acked_through, "accepted": result.accepted,
                             "duplicates": result.duplicates,
                             "quarantined": result.quarantined})

    @app.get("/api/v1/stations/{station_id}/bundle")
    def get_bundle(station_id: str, authorization: str | None = Header(default=None),
                   if_none_match: str | None = Header(default=None)) -> Response:
        station_auth(station_id, authorization)
        bundle = store.bundle()
        etag = '"' + token_hash(bundle["version"])[:32] + '"'
        if if_none_match and etag in [tag.strip() for tag in if_none_match.split(",")]:
            return Response(status_code=304, headers={"ETag": etag})
        return JSONResponse(bundle, headers={"ETag": etag})

    @app.post("/api/v1/stations/{station_id}/heartbeat", status_code=204)
    def post_heartbeat(station_id: str, request: Request,
                       authorization: str | None = Header(default=None)) -> Response:
        station_auth(station_id, authorization)
        try:
            beat = json.loads(request.state.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise HTTPException(400, "body is not JSON") from None
        if not isinstance(beat, dict):
            raise HTTPException(400, "a heartbeat is a JSON object")
        store.heartbeat(station_id, beat)
        return Response(status_code=204)

    # -- town staff ------------------------------------------------------------------------

    @app.get("/api/v1/stations")
    def list_stations(authorization: str | None = Header(default=None)) -> JSONResponse:
        admin_auth(authorization)
        now = dt.datetime.now(CST)
        out = []
        for status in store.stations():
            silent = status.silent_for(now)
            out.append({
                "id": status.id, "enterprise": status.enterprise,
                "last_heartbeat": status.last_heartbeat,
                "backlog": status.heartbeat.get("backlog"),
                "faults": status.heartbeat.get("faults", []),
                "bundle_version": status.heartbeat.get("bundle_version"),
                "acked_through": status.epochs,
                "silent": silent is None or silent > settings.silent_after,
                "silent_minutes": None if silent is None else int(silent.total_seconds() // 60),
            })
        return JSONResponse(out)

    @app.get("/api/v1/entries", response_model=None)
    def list_entries(
        authorization: str | None = Header(default=None),
        station: str | None = None, enterprise: str | None = None,
        since: str | None = None, until: str | None = None, kind: str | None = None,
        format: str = Query("json", pattern="^(json|csv)$"),
        limit: int = Query(500, ge=1, le=10000), after: int = Query(0, ge=0),
    ) -> Response:
        admin_auth(authorization)
        rows = store.entries(station=station, enterprise=enterprise, since=since, until=until,
                             kind=kind, after=after, limit=limit)
        next_after = rows[-1]["id"] if len(rows) == limit else None
        headers = {"X-Next-After": str(next_after)} if next_after else {}
        if format == "csv":
            buffer = io.StringIO()
            write_csv(rows, ENTRY_CSV, buffer)
            return PlainTextResponse(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                                     headers=headers)
        return JSONResponse({"entries": rows, "next_after": next_after}, headers=headers)

    # -- dashboard -----------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, response_model=None)
    def dashboard(request: Request) -> Response:
        cookie = request.cookies.get("town_admin")
        if not cookie or not store.is_admin_token(cookie):
            return HTMLResponse(_page("登录 Login", _LOGIN_FORM))
        return HTMLResponse(_dashboard_html(store, settings))

    @app.post("/login", response_model=None)
    def login(request: Request) -> Response:
        form = parse_qs(request.state.body.decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        if not token or not store.is_admin_token(token):
            return HTMLResponse(_page("登录 Login", "<p class=bad>Unknown admin token.</p>"
                                      + _LOGIN_FORM), status_code=401)
        response = RedirectResponse("/", status_code=303)
        https = request.url.scheme == "https" or \
            request.headers.get("x-forwarded-proto", "").lower() == "https"
        response.set_cookie("town_admin", token, httponly=True, samesite="strict",
                            secure=https, max_age=12 * 3600)
        return response

    @app.post("/logout", response_model=None)
    def logout() -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie("town_admin")
        return response

    # -- body handling: size limit and gzip, before any handler ----------------------------------

    @app.middleware("http")
    async def read_body(request: Request, call_next: Callable[..., Any]) -> Response:
        if request.method == "POST":
            try:
                request.state.body = await _limited_body(request)
            except BodyTooLarge:
                return JSONResponse({"detail": f"body larger than {MAX_BODY} bytes"},
                                    status_code=413)
            except zlib.error:
                return JSONResponse({"detail": "body is not valid gzip"}, status_code=400)
        response: Response = await call_next(request)
        return response

    return app


async def _limited_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLarge
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        body = inflater.decompress(body, MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise BodyTooLarge  # a gzip bomb stops here, 1 MiB in
        if not inflater.eof:
            raise zlib.error("truncated gzip stream")
    return body


def _push_shape(document: Any, station_id: str) -> tuple[str, dict[str, Any], list[Any]]:
    """The request's shape per sync.md, or 400. Field errors inside records are not shape
    errors: those records go to quarantine."""
    if not isinstance(document, dict):
        raise HTTPException(400, "body must be a JSON object")
    epoch, clock, entries = document.get("epoch"), document.get("clock"), document.get("entries")
    if not isinstance(epoch, str) or not 1 <= len(epoch) <= 64:
        raise HTTPException(400, "epoch must be text (a UUID)")
    if not isinstance(clock, dict):
        raise HTTPException(400, "clock must be an object")
    if not isinstance(entries, list):
        raise HTTPException(400, "entries must be a list")
    previous = 0
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise HTTPException(400, f"entries[{index}] is not an object")
        seq = entry.get("seq")
        if type(seq) is not int or seq < 1:
            raise HTTPException(400, f"entries[{index}].seq must be a positive whole number")
        if seq <= previous:
            raise HTTPException(400, f"entries[{index}].seq: entries must be in ascending seq")
        previous = seq
    if not is_station_id(station_id):
        raise HTTPException(400, "bad station id")
    return epoch, clock, entries


_STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;
margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f0f0f0}.bad{color:#b00;font-weight:bold}.ok{color:#070}h2{margin-top:1.2em}"""
_LOGIN_FORM = """<form method=post action=/login><label>Admin token 管理令牌
<input type=password name=token autofocus size=50></label> <button>Log in 登录</button></form>"""


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=zh><head><meta charset=utf-8><title>{html.escape(title)}"
            f"</title><meta http-equiv=refresh content=30><style>{_STYLE}</style></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")


def _dashboard_html(store: TownStore, settings: Settings) -> str:
    now = dt.datetime.now(CST)
    e = html.escape
    rows = []
    for status in store.stations():
        silent = status.silent_for(now)
        flag = ('<span class=bad>never heard from 从未上线</span>' if silent is None else
                f'<span class=bad>silent for {int(silent.total_seconds() // 60)} min '
                f'已失联</span>' if silent > settings.silent_after else "<span class=ok>online 在线"
                "</span>")
        faults = ", ".join(e(str(f)) for f in status.heartbeat.get("faults", [])) or "—"
        acked = "; ".join(f"{e(k[:8])}…: {v}" for k, v in status.epochs.items()) or "—"
        rows.append(f"<tr><td>{e(status.id)}</td><td>{e(status.enterprise)}</td>"
                    f"<td>{e(status.last_heartbeat or '—')}</td><td>{flag}</td>"
                    f"<td>{e(str(status.heartbeat.get('backlog', '—')))}</td>"
                    f"<td class={'bad' if faults != '—' else 'ok'}>{faults}</td>"
                    f"<td>{acked}</td></tr>")
    summary = "".join(
        f"<tr><td>{e(row['enterprise'])}</td><td>{row['entries']}</td><td>{row['admitted']}</td>"
        f"<td>{row['denied']}</td></tr>" for row in store.day_summary(now.date())) or \
        "<tr><td colspan=4>—</td></tr>"
    alarms = "".join(
        f"<tr><td class=bad>{e(a.get('time') or '')}</td><td>{e(a['station'])}</td>"
        f"<td>{e(a['enterprise'])}</td><td>{e(str(a.get('subject') or '—'))}</td>"
        f"<td>{e(str(a.get('name') or ''))}</td><td class=bad>{a.get('temperature_c')}</td></tr>"
        for a in store.entries(kind="alarm", limit=50, newest_first=True)) or \
        "<tr><td colspan=6>—</td></tr>"
    body = (
        f"<p>{e(now.isoformat(timespec='seconds'))} · <form method=post action=/logout "
        f"style=display:inline><button>Log out 退出</button></form></p>"
        "<h2>Stations 站点</h2><table><tr><th>station</th><th>enterprise 企业</th>"
        "<th>last heartbeat 最近心跳</th><th>status 状态</th><th>backlog 积压</th>"
        f"<th>faults 故障</th><th>acked through</th></tr>{''.join(rows)}</table>"
        f"<h2>Today 今日 ({now.date()})</h2><table><tr><th>enterprise 企业</th>"
        "<th>entries 入厂</th><th>admitted 准入</th><th>denied 拒绝</th></tr>"
        f"{summary}</table><h2>Fever alarms 发热告警 (newest first)</h2><table><tr>"
        "<th>time</th><th>station</th><th>enterprise</th><th>subject</th><th>name</th>"
        f"<th>°C</th></tr>{alarms}</table>")
    return _page("红炉镇 入厂检测 · town dashboard", body)
