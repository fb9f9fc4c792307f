"""Logging in and out, and the language switch.

The login form carries its own CSRF token (a random value in a cookie and in the form, which
must match: there is no session yet). Failed logins are limited per client address and per
user name (LoginLimiter); a refused attempt does not even check the password. Passwords are
never logged: they arrive in a POST body, which uvicorn's access log does not print.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from station.console.accounts import Session
from station.console.deps import (
    SESSION_COOKIE,
    CheckedForm,
    ConsoleDep,
    LocaleDep,
    optional_session,
)
from station.console.web import LANG_COOKIE, LOCALES, Page, render

router = APIRouter(tags=["auth"])
log = logging.getLogger("gate-station.console")
LOGIN_CSRF_COOKIE = "gs_login_csrf"


def safe_next(target: str | None) -> str:
    """A local path to go to after logging in (never another site: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, console: ConsoleDep, locale: LocaleDep, *, status: int = 200,
                error: str | None = None, name: str = "", next_path: str = "/") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(console.templates, Page(request, locale, None), "login.html", status,
                      error=error, name=name, next_path=safe_next(next_path), login_csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=console.config.console.secure_cookies, path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, console: ConsoleDep, locale: LocaleDep,
               session: Annotated[Session | None, Depends(optional_session)],
               next: str = "/") -> Response:
    """The login form (or straight on, when already logged in)."""
    if session is not None:
        return RedirectResponse(safe_next(next), 303)
    return _login_page(request, console, locale, next_path=next)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, console: ConsoleDep, locale: LocaleDep) -> Response:
    """Check the name and password; start a server-side session (cookie: HttpOnly,
    SameSite=Strict, Secure behind TLS)."""
    form = await request.form()
    name = str(form.get("name", ""))[:64].strip()
    password = str(form.get("password", ""))
    next_path = safe_next(str(form.get("next", "/")))
    page = Page(request, locale, None)
    sent, expected = str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent, expected):
        return _login_page(request, console, locale, status=403, name=name,
                           error=page.t("login.csrf"), next_path=next_path)
    address = request.client.host if request.client else "-"
    wait = console.limiter.retry_after(address, name)
    if wait:
        log.warning("login refused (too many failures): user %r from %s", name, address)
        response = _login_page(request, console, locale, status=429, name=name,
                               error=page.t("login.limited", seconds=wait),
                               next_path=next_path)
        response.headers["Retry-After"] = str(wait)
        return response
    from anyio import to_thread

    user = await to_thread.run_sync(console.accounts.authenticate, name, password)
    if user is None:
        console.limiter.failed(address, name)
        log.warning("login failed: user %r from %s", name, address)
        return _login_page(request, console, locale, status=401, name=name,
                           error=page.t("login.wrong"), next_path=next_path)
    console.limiter.succeeded(address, name)
    token, _ = console.accounts.start_session(user)
    log.info("login: %s (%s) from %s", user.name, user.role, address)
    response = RedirectResponse(next_path, 303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                        secure=console.config.console.secure_cookies,
                        max_age=console.config.console.session_max_hours * 3600)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, console: ConsoleDep, form: CheckedForm) -> Response:
    """End the session (server side: the cookie's token is worthless afterwards)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        console.accounts.end_session(token)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{locale}")
def switch_language(locale: str, next: str = "/") -> Response:
    """Switch the console's language (zh_CN or en) for this browser."""
    response = RedirectResponse(safe_next(next), 303)
    if locale in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, samesite="lax", max_age=365 * 86400)
    return response
