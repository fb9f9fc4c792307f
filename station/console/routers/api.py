"""The guard's operations as a JSON API (the pages' scripts use the same calls):

- `POST /api/v1/session` {name, password} → {token, csrf, role}: a session for an API client
  (send `Authorization: Bearer TOKEN`); `DELETE /api/v1/session` ends it.
- `POST /api/v1/vehicles`, `/api/v1/visitors` (a vehicle or visitor entering; `?preview=1`
  checks and decides without writing), `/api/v1/acks` (a fever alarm handled),
  `/api/v1/vehicles/{visit_id}/out`, `/api/v1/visitors/{visit_id}/out` → 201
  {record, alarm}; a refused call → 422 {detail, problems: [{field, problem, message}]} and
  nothing written.
- `GET /api/v1/inside` (vehicles and visitors without an out record), `GET /api/v1/alarms/
  unhandled`, `POST /api/v1/capture` (the next code and reading from the gate daemon; 503
  with the reason when there is none).

Auth: deps.api_session (bearer token, or the session cookie with `X-CSRF-Token` on writes).
Guards and officers may call all of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from station.console.deps import (
    SESSION_COOKIE,
    ApiSession,
    ConsoleDep,
    LocaleDep,
    ReadLedger,
)
from station.console.registering import (
    capture_from_gate,
    record_json,
    refusal_json,
    with_registrar,
)
from station.handover import HandoverUnavailable
from station.messages import Locale
from station.registration import Outcome, Registrar, RegistrationRefused

router = APIRouter(prefix="/api/v1", tags=["registration"])
MAX_BODY = 64 * 1024


async def json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ValueError("body too large")
    data = json.loads(body or b"{}")
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    return data


def bad_body(error: Exception) -> JSONResponse:
    return JSONResponse({"detail": "bad request", "problems": [f"body: {error}"]}, 400)


def answer(console: Any, locale: LocaleDep, action: Callable[[Registrar], Outcome],
           status: int = 201) -> JSONResponse:
    try:
        outcome = with_registrar(console, action)
    except RegistrationRefused as error:
        return JSONResponse(refusal_json(error, locale), 422)
    return JSONResponse({"record": record_json(outcome.record),
                         "alarm": record_json(outcome.alarm)}, status)


@router.post("/session")
async def start_session(request: Request, console: ConsoleDep) -> JSONResponse:
    """A session for an API client: {name, password} → {token, csrf, role}. The same
    limiter as the login page (5 failures in 5 minutes)."""
    try:
        body = await json_body(request)
    except ValueError as error:
        return bad_body(error)
    name, password = str(body.get("name", ""))[:64].strip(), str(body.get("password", ""))
    address = request.client.host if request.client else "-"
    wait = console.limiter.retry_after(address, name)
    if wait:
        return JSONResponse({"detail": "too many failed logins"}, 429,
                            headers={"Retry-After": str(wait)})
    user = await to_thread.run_sync(console.accounts.authenticate, name, password)
    if user is None:
        console.limiter.failed(address, name)
        return JSONResponse({"detail": "wrong name or password"}, 401)
    console.limiter.succeeded(address, name)
    token, session = console.accounts.start_session(user)
    return JSONResponse({"token": token, "csrf": session.csrf, "role": user.role}, 201)


@router.delete("/session")
def end_session(request: Request, session: ApiSession, console: ConsoleDep) -> JSONResponse:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else \
        request.cookies.get(SESSION_COOKIE, "")
    console.accounts.end_session(token)
    return JSONResponse({"detail": "ended"})


def _preview(request: Request) -> bool:
    return request.query_params.get("preview", "") in ("1", "true")


async def _register(request: Request, console: Any, locale: Locale,
                    write: Callable[[Registrar, dict[str, Any], bool], Outcome], *,
                    previewable: bool) -> JSONResponse:
    """Read the JSON body, write through the registrar off the event loop, answer: 201 (or
    200 for a `?preview=1` that decides without writing), 422 per field, 400 for a bad body."""
    try:
        body = await json_body(request)
    except ValueError as error:
        return bad_body(error)
    preview = previewable and _preview(request)
    return await to_thread.run_sync(lambda: answer(
        console, locale, lambda r: write(r, body, preview), 200 if preview else 201))


@router.post("/vehicles")
async def vehicle_in(request: Request, session: ApiSession, console: ConsoleDep,
                     locale: LocaleDep) -> JSONResponse:
    """Register a vehicle entering (registration.md); `?preview=1` decides without writing."""
    return await _register(request, console, locale, lambda r, body, preview: r.vehicle_in(
        body, session.user.name, preview=preview), previewable=True)


@router.post("/visitors")
async def visitor_in(request: Request, session: ApiSession, console: ConsoleDep,
                     locale: LocaleDep) -> JSONResponse:
    """Register a visitor entering; `?preview=1` decides without writing."""
    return await _register(request, console, locale, lambda r, body, preview: r.visitor_in(
        body, session.user.name, preview=preview), previewable=True)


@router.post("/acks")
async def ack(request: Request, session: ApiSession, console: ConsoleDep,
              locale: LocaleDep) -> JSONResponse:
    """Record how a fever alarm was handled."""
    return await _register(request, console, locale, lambda r, body, _preview: r.ack(
        body, session.user.name), previewable=False)


@router.post("/{kind}/{visit_id}/out")
def out(kind: Literal["vehicles", "visitors"], visit_id: str, session: ApiSession,
        console: ConsoleDep, locale: LocaleDep) -> JSONResponse:
    which: Literal["vehicle", "visitor"] = "vehicle" if kind == "vehicles" else "visitor"
    return answer(console, locale, lambda r: r.out(which, visit_id[:64], session.user.name))


@router.get("/inside")
def inside(session: ApiSession, ledger: ReadLedger) -> JSONResponse:
    return JSONResponse({kind: [record_json(r) for r in ledger.inside_now(kind)]
                         for kind in ("vehicle", "visitor")})


@router.get("/alarms/unhandled")
def unhandled(session: ApiSession, ledger: ReadLedger) -> JSONResponse:
    return JSONResponse({"alarms": [record_json(r) for r in ledger.unhandled_alarms()]})


@router.post("/capture")
def capture(request: Request, session: ApiSession, console: ConsoleDep) -> JSONResponse:
    """The next code and reading from the gate daemon, as form fields (blocks up to 30 s)."""
    want = request.query_params.get("want", "code+reading")
    try:
        return JSONResponse(capture_from_gate(console, want))
    except HandoverUnavailable as error:
        return JSONResponse({"detail": str(error)}, 503)
