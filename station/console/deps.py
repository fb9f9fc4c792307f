"""FastAPI dependencies: the console state, the logged-in user (typed like FastAPI's
full-stack template: `CurrentUser = Annotated[User, Depends(current_user)]`), roles, the
CSRF-checked form, the page context and a read-only ledger per request.

Failures raise the exceptions below; app.py turns each into a page (or JSON under /api/):
LoginRequired → the login page, Forbidden → 403, CsrfRefused → 403, BadInput → 400.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from station.console.accounts import Session, User
from station.console.state import Console
from station.console.web import Page, request_locale
from station.ledger import Ledger
from station.messages import Locale

SESSION_COOKIE = "gs_session"


class LoginRequired(Exception):
    """No valid session."""


class Forbidden(Exception):
    """Logged in, but the role may not see this."""


class CsrfRefused(Exception):
    """A form without the session's CSRF token."""


class BadInput(Exception):
    """Query or form values that cannot be used; `problems` are sentences for the page."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def get_console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


ConsoleDep = Annotated[Console, Depends(get_console)]


def optional_session(request: Request, console: ConsoleDep) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    session = console.accounts.session(token) if token else None
    request.state.session = session
    return session


def current_session(session: Annotated[Session | None, Depends(optional_session)]) -> Session:
    if session is None:
        raise LoginRequired
    return session


SessionDep = Annotated[Session, Depends(current_session)]


def current_user(session: SessionDep) -> User:
    return session.user


CurrentUser = Annotated[User, Depends(current_user)]


def officer_user(user: CurrentUser) -> User:
    """Officers see everything; guards see the gate, registration and alarms."""
    if not user.is_officer:
        raise Forbidden
    return user


OfficerUser = Annotated[User, Depends(officer_user)]


def locale(request: Request, console: ConsoleDep) -> Locale:
    return request_locale(request, console.config.station.locale)


LocaleDep = Annotated[Locale, Depends(locale)]


def page_context(request: Request, session: SessionDep, chosen: LocaleDep) -> Page:
    return Page(request, chosen, session)


PageDep = Annotated[Page, Depends(page_context)]


async def checked_form(request: Request, session: SessionDep) -> FormData:
    """The posted form, after checking its CSRF token against the session's."""
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
        raise CsrfRefused
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


CSRF_HEADER = "X-CSRF-Token"


def api_session(request: Request, console: ConsoleDep) -> Session:
    """Who calls the JSON API. Two ways, both a server-side session (console/accounts.py):
    `Authorization: Bearer TOKEN` (TOKEN from `POST /api/v1/session`; no CSRF check, since
    a browser never adds that header by itself), or the console's session cookie, which on
    any write must come with the session's CSRF token in the `X-CSRF-Token` header (the pages'
    scripts send it)."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        session = console.accounts.session(header[7:].strip())
        if session is None:
            raise LoginRequired
        request.state.session = session
        return session
    session = optional_session(request, console)
    if session is None:
        raise LoginRequired
    if request.method not in ("GET", "HEAD"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise CsrfRefused
    return session


ApiSession = Annotated[Session, Depends(api_session)]


def read_ledger(console: ConsoleDep) -> Iterator[Ledger]:
    """A read-only ledger connection for one request (a fresh WAL snapshot each time)."""
    ledger = console.open_ledger()
    try:
        yield ledger
    finally:
        ledger.close()


ReadLedger = Annotated[Ledger, Depends(read_ledger)]
