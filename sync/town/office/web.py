"""Rendering and request parsing for the town office console.

Jinja2 templates with autoescaping (no markup is ever built from data by hand), no inline
script or style (the server's Content-Security-Policy forbids both), the page's language from
the `town_lang` cookie (Chinese by default). Query parameters are parsed here: a bad date, a
range that is too long, an unknown enterprise or station raise `Problem`, which the app
answers with a clear 4xx page in the reader's language, never a 500.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from station.clock import CST, cst_date
from station.console.web import query_url, url_changed
from station.messages import reason_message, word
from sync.town.office.texts import LOCALES, TEXTS, Locale, t
from sync.town.store import Session

HERE = Path(__file__).resolve().parent
LANG_COOKIE = "town_lang"


class Problem(Exception):
    """A request the console cannot answer: `status` (4xx) and a message for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LoginNeeded(Exception):
    """No live session: the page sends the reader to the login form."""


def make_environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html", "svg"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(clock=clock_time, temperature=temperature, unix=unix_time)
    return env


def unix_time(value: int | None) -> str:
    """Seconds since 1970 as a CST `YYYY-MM-DD HH:MM:SS` (the number itself if out of range)."""
    try:
        return dt.datetime.fromtimestamp(int(value or 0), CST).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return str(value)


def clock_time(value: str | None) -> str:
    """An ISO time as `YYYY-MM-DD HH:MM:SS` (the station's CST wall time)."""
    return value[:19].replace("T", " ") if value else ""


def temperature(value: float | None) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else ""


def locale_of(request: Request) -> Locale:
    chosen = request.cookies.get(LANG_COOKIE)
    for locale in LOCALES:
        if chosen == locale:
            return locale
    return "zh_CN"


def today() -> dt.date:
    return cst_date(dt.datetime.now(CST))


class Page:
    """What every template gets: the language's texts, the session's CSRF token, URLs."""

    def __init__(self, request: Request, session: Session | None) -> None:
        self.request = request
        self.locale = locale_of(request)
        self.session = session
        self.csrf = session.csrf if session else ""

    def t(self, key: str, **fields: Any) -> str:
        return t(key, self.locale, **fields)

    def kind(self, kind: str | None) -> str:
        """A record kind in words (an unknown kind as it is)."""
        return self.t(f"kind.{kind}") if f"kind.{kind}" in TEXTS else str(kind or "")

    def reason(self, code: str) -> str:
        return reason_message(code, self.locale)

    def word(self, key: str | None) -> str:
        return word(key, self.locale) if key else ""

    def url(self, path: str, **params: Any) -> str:
        return query_url(path, params)

    def here(self, **changes: Any) -> str:
        return url_changed(self.request, changes)

    @property
    def current(self) -> str:
        query = self.request.url.query
        return self.request.url.path + (f"?{query}" if query else "")


def render(env: Environment, page: Page, template: str, status: int = 200,
           **context: Any) -> HTMLResponse:
    body = env.get_template(template).render(page=page, t=page.t, **context)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


# -- parameters ------------------------------------------------------------------------------


def parse_day(request: Request, name: str, default: dt.date) -> dt.date:
    """A `YYYY-MM-DD` query parameter (years 2000–2099), or `default` when absent or empty."""
    value = request.query_params.get(name, "")
    if not value:
        return default
    locale = locale_of(request)
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise Problem(400, t("error.bad-date", locale, value=value[:40])) from None
    if len(value) != 10 or not 2000 <= day.year <= 2099:
        raise Problem(400, t("error.bad-date", locale, value=value[:40]))
    return day


def parse_range(request: Request, default_last: dt.date, default_days: int,
                max_days: int) -> tuple[dt.date, dt.date]:
    """`from`/`to` query parameters: at most `max_days` days, `from` not after `to`."""
    last = parse_day(request, "to", default_last)
    first = parse_day(request, "from", last - dt.timedelta(days=default_days - 1))
    if first > last or (last - first).days + 1 > max_days:
        raise Problem(400, t("error.range", locale_of(request), days=max_days))
    return first, last


def parse_count(request: Request, name: str, default: int = 0,
                maximum: int = 2**63 - 1) -> int:
    value = request.query_params.get(name, "")
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 19 or int(value) > maximum:
        raise Problem(400, t("error.bad-number", locale_of(request), field=name))
    return int(value)


def parse_choice(request: Request, name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first is the default)."""
    value = request.query_params.get(name, "") or choices[0]
    if value not in choices:
        raise Problem(400, t("error.bad-value", locale_of(request), field=name))
    return value


def wants_xlsx(request: Request) -> bool:
    return parse_choice(request, "format", ("html", "xlsx")) == "xlsx"
