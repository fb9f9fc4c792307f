"""Rendering: the Jinja2 environment (autoescaped), the per-request template context, the
formatting filters, and the security headers every response carries.

Templates never build markup from data by hand: every value goes through autoescaping, and
the pages carry no inline script or style, so the Content-Security-Policy can forbid both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from station.console.accounts import Session
from station.ledger import Record
from station.messages import Locale, reason_message, text, word
from station.present import describe_detail, reasons_text

HERE = Path(__file__).resolve().parent
LOCALES: tuple[Locale, ...] = ("zh_CN", "en")
LANG_COOKIE = "gs_lang"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def mask_name(name: str | None) -> str:
    """A name as the gate display shows it: the first character and `*` (张*)."""
    if not name:
        return ""
    return name[0] + "*" * max(1, min(len(name) - 1, 2))


def clock_time(value: str | None) -> str:
    """An ISO time from the ledger (CST) as `YYYY-MM-DD HH:MM:SS`."""
    return value[:19].replace("T", " ") if value else ""


def hms(value: str | None) -> str:
    return value[11:19] if value else ""


def temperature(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else ""


def make_environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html", "svg"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(clock_time=clock_time, hms=hms, temperature=temperature,
                       mask_name=mask_name)
    return env


def request_locale(request: Request, default: Locale) -> Locale:
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LOCALES else default


class Page:
    """What every template gets: the locale's text functions, the user and the CSRF token."""

    def __init__(self, request: Request, locale: Locale, session: Session | None) -> None:
        self.request = request
        self.locale = locale
        self.session = session
        self.user = session.user if session else None
        self.csrf = session.csrf if session else ""

    def t(self, key: str, **fields: Any) -> str:
        return text(f"console.{key}", self.locale, **fields)

    def reason(self, code: str) -> str:
        return reason_message(code, self.locale)

    def reasons(self, codes: tuple[str, ...] | list[str]) -> str:
        return reasons_text(codes, self.locale)

    def describe(self, record: Record) -> str:
        """A fault's or alarm's detail in the page's language (station.present)."""
        return describe_detail(record, self.locale)

    def word(self, key: str | None) -> str:
        return word(key, self.locale) if key else ""

    def url(self, path: str, **params: Any) -> str:
        return query_url(path, params)

    def here(self, **changes: Any) -> str:
        return url_changed(self.request, changes)


def query_url(path: str, params: dict[str, Any]) -> str:
    """`path` with the query `params` that are neither None nor empty."""
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return f"{path}?{query}" if query else path


def url_changed(request: Request, changes: dict[str, Any]) -> str:
    """This request's URL with some query parameters changed (None removes one); the
    station console's and the town office's pages both link this way."""
    params: dict[str, Any] = dict(request.query_params)
    params.update(changes)
    return query_url(request.url.path, params)


def render(env: Environment, page: Page, template: str, status: int = 200,
           **context: Any) -> HTMLResponse:
    body = env.get_template(template).render(page=page, t=page.t, **context)
    return HTMLResponse(body, status_code=status)


async def security_headers(request: Request,
                           call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Every response: CSP without inline script or style, no framing, no sniffing; pages
    and files with personal data are not cached."""
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def today_text(now: dt.datetime | None = None) -> str:
    from station.clock import CST, cst_date

    return cst_date(now or dt.datetime.now(CST)).isoformat()
