"""Who is asking: FastAPI dependencies for the station and admin endpoints.

Handlers declare what they need by type (`station: StationAuth`, `admin: AdminAuth`,
`session: SessionAuth`) and FastAPI runs the check before the handler (the pattern of
FastAPI's full-stack template). The store comes from `request.app.state.store`.

- Station endpoints: `Authorization: Bearer <station token>`; missing, unknown or disabled →
  401; another station's token → 403 (sync.md).
- Admin (read) endpoints: an admin token as a bearer token, or a dashboard session cookie;
  a station token → 403.
- Dashboard pages: a server-side session (`town_session` cookie, HttpOnly, SameSite=Strict,
  expiring); state-changing forms carry the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from sync.town.store import Admin, Session, Station, TownStore, constant_time_equal

SESSION_COOKIE = "town_session"


def store_of(request: Request) -> TownStore:
    store: TownStore = request.app.state.store
    return store


def bearer(authorization: str | None) -> str | None:
    if not authorization or not authorization.startswith("Bearer "):
        return None
    token = authorization[len("Bearer "):].strip()
    return token or None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def station_auth(request: Request, station_id: str,
                 authorization: Annotated[str | None, Header()] = None) -> Station:
    """The station whose token this is, when it is the station named in the path."""
    token = bearer(authorization)
    station = store_of(request).station_for_token(token) if token else None
    if station is None:
        raise _unauthorized("missing or unknown station token")
    if station.disabled:
        raise _unauthorized("this station is disabled by the town")
    if not constant_time_equal(station.id, station_id):
        raise HTTPException(403, "this token belongs to another station")
    return station


def current_session(request: Request) -> Session | None:
    """The dashboard session of this request's cookie, if it is live."""
    session_id = request.cookies.get(SESSION_COOKIE)
    return store_of(request).session(session_id) if session_id else None


def admin_auth(request: Request, authorization: Annotated[str | None, Header()] = None
               ) -> Admin:
    """Town staff: an admin bearer token, or a live dashboard session."""
    token = bearer(authorization)
    store = store_of(request)
    if token:
        admin = store.admin_for_token(token)
        if admin is not None:
            return admin
        if store.station_for_token(token) is not None:
            raise HTTPException(403, "station tokens cannot read town data")
        raise _unauthorized("unknown or revoked admin token")
    session = current_session(request)
    if session is None:
        raise _unauthorized("admin token required")
    return session.admin


StationAuth = Annotated[Station, Depends(station_auth)]
AdminAuth = Annotated[Admin, Depends(admin_auth)]
MaybeSession = Annotated[Session | None, Depends(current_session)]
