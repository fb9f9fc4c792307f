"""The town dashboard (server-rendered HTML, Chinese first) and the API docs, both behind the
admin login.

- Login with an admin token creates a server-side session: a random id in an HttpOnly,
  SameSite=Strict cookie (Secure behind HTTPS), expiring after `Settings.session_ttl`;
  logging out or revoking the admin token ends it. The login form is protected by a
  double-submit CSRF token (cookie + hidden field), every other form by the session's token.
- No inline script or style (the Content-Security-Policy forbids them): the page's live part
  (`#live`) is refreshed every 30 s by /static/town.js fetching `/live`; the login page has no
  refresh at all, so a token being typed is never wiped.
- Chinese first; `/lang/en` (the link at the top) switches this browser to English, `/lang/zh_CN`
  back (a cookie); without one, the server's `--locale` (TOWN_LOCALE) decides.
- `/docs` (Swagger UI) and `/openapi.json` need the login too; Swagger UI's files come from
  the `swagger-ui-py` package, so the docs work on a town network without internet.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib.resources
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

from station.clock import CST
from station.messages import Locale
from sync.town import texts
from sync.town.auth import SESSION_COOKIE, AdminAuth, MaybeSession, store_of
from sync.town.store import Session, TownStore, constant_time_equal

LOGIN_CSRF_COOKIE = "town_login"
LANG_COOKIE = "town_lang"
STATIC = Path(__file__).with_name("static")
STATIC_FILES = {"town.css": "text/css", "town.js": "text/javascript",
                "docs.js": "text/javascript"}
SWAGGER_FILES = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}
e = html.escape


def _form(request: Request) -> dict[str, str]:
    fields = parse_qs(request.state.body.decode("utf-8", "replace"))
    return {key: values[0] for key, values in fields.items()}


def _https(request: Request) -> bool:
    return request.url.scheme == "https" or \
        request.headers.get("x-forwarded-proto", "").lower() == "https"


def page_locale(request: Request) -> Locale:
    """The browser's choice (the switch's cookie), else the server's `--locale`."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in ("zh_CN", "en"):
        return chosen  # type: ignore[return-value]
    default = getattr(request.app.state.settings, "locale", "zh_CN")
    return "en" if default == "en" else "zh_CN"


def _page(title: str, body: str, locale: Locale, *, live: bool = False) -> str:
    script = "<script src=/static/town.js></script>" if live else ""
    other = "en" if locale == "zh_CN" else "zh_CN"
    switch = (f"<p class=lang><a href=/lang/{other}>{e(texts.html('switch', locale))}</a>"
              "</p>")
    return (f"<!doctype html><html lang={'zh' if locale == 'zh_CN' else 'en'}><head>"
            f"<meta charset=utf-8><title>{e(title)}</title>"
            f"<link rel=stylesheet href=/static/town.css>{script}</head>"
            f"<body>{switch}<h1>{e(title)}</h1>{body}</body></html>")


def _login_page(request: Request, message: str = "", status: int = 200) -> Response:
    locale = page_locale(request)
    csrf = secrets.token_urlsafe(24)
    notice = f"<p class=bad>{e(message)}</p>" if message else ""
    body = (f"{notice}<form method=post action=/login><label>"
            f"{e(texts.html('login-label', locale))} "
            "<input type=password name=token autofocus size=50 autocomplete=off></label>"
            f"<input type=hidden name=csrf value={e(csrf)}> "
            f"<button>{e(texts.html('login-button', locale))}</button></form>")
    response = HTMLResponse(_page(texts.html("login-title", locale), body, locale),
                            status_code=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict",
                        secure=_https(request), max_age=3600)
    return response


def require_session(session: MaybeSession) -> Session:
    if session is None:
        raise HTTPException(401, "log in first")
    return session


LiveSession = Annotated[Session, Depends(require_session)]


def install(app: FastAPI) -> None:
    """Add the dashboard's and the docs' routes to the app."""
    settings = app.state.settings

    @app.get("/", response_class=HTMLResponse, response_model=None, tags=["dashboard"])
    def dashboard(request: Request, session: MaybeSession) -> Response:
        """The dashboard (after login): stations, today per enterprise, fever alarms."""
        if session is None:
            return _login_page(request)
        locale = page_locale(request)
        body = (f"<p><a href=/office>{e(texts.html('office', locale))}</a> · "
                f"<a href=/docs>{e(texts.html('api-docs', locale))}</a> · "
                f"<form method=post action=/logout class=inline>"
                f"<input type=hidden name=csrf value={e(session.csrf)}>"
                f"<button>{e(texts.html('logout', locale))}</button></form></p>"
                f"<div id=live>{_live_html(store_of(request), settings, locale)}</div>")
        return HTMLResponse(_page(texts.html("title", locale), body, locale, live=True))

    @app.get("/lang/{locale}", response_model=None, tags=["dashboard"])
    def switch_language(locale: str) -> Response:
        """Show the dashboard in `zh_CN` or `en` in this browser (a cookie); back to /."""
        response = RedirectResponse("/", status_code=303)
        if locale in ("zh_CN", "en"):
            response.set_cookie(LANG_COOKIE, locale, samesite="lax", max_age=365 * 86400)
        return response

    @app.get("/live", response_class=HTMLResponse, response_model=None, tags=["dashboard"])
    def live(request: Request, session: LiveSession) -> Response:
        """The dashboard's live part, for its 30-second refresh (401 after logout)."""
        return HTMLResponse(_live_html(store_of(request), settings, page_locale(request)))

    @app.post("/login", response_model=None, tags=["dashboard"])
    def login(request: Request) -> Response:
        """Log in with an admin token (form fields `token` and `csrf`): a session cookie."""
        form = _form(request)
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not constant_time_equal(form.get("csrf", ""), expected):
            return _login_page(request, texts.html("login-expired", page_locale(request)), 403)
        store = store_of(request)
        admin = store.admin_for_token(form.get("token", "").strip())
        if admin is None:
            return _login_page(request, texts.html("login-bad", page_locale(request)), 401)
        session_id, _ = store.new_session(admin, settings.session_ttl)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict",
                            secure=_https(request),
                            max_age=int(settings.session_ttl.total_seconds()))
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @app.post("/logout", response_model=None, tags=["dashboard"])
    def logout(request: Request, session: LiveSession) -> Response:
        """End the session (form field `csrf`: the session's CSRF token)."""
        if not constant_time_equal(_form(request).get("csrf", ""), session.csrf):
            raise HTTPException(403, "CSRF token missing or wrong")
        store_of(request).end_session(request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404, "no such file")
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(admin: AdminAuth) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, response_model=None)
    def docs(request: Request, session: MaybeSession) -> Response:
        if session is None:
            return RedirectResponse("/", status_code=303)
        return HTMLResponse(
            "<!doctype html><html><head><meta charset=utf-8><title>town server API</title>"
            "<link rel=stylesheet href=/docs/assets/swagger-ui.css></head><body>"
            "<div id=swagger-ui></div><script src=/docs/assets/swagger-ui-bundle.js></script>"
            "<script src=/static/docs.js></script></body></html>")

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def docs_asset(name: str, admin: AdminAuth) -> FileResponse:
        if name not in SWAGGER_FILES:
            raise HTTPException(404, "no such file")
        folder = importlib.resources.files("swagger_ui") / "static"
        return FileResponse(Path(str(folder / name)), media_type=SWAGGER_FILES[name])


def _live_html(store: TownStore, settings: Any, locale: Locale) -> str:
    now = dt.datetime.now(CST)

    def h(label: str, **fields: Any) -> str:
        return texts.html(label, locale, **fields)

    rows = []
    for status in store.stations():
        silent = status.silent_for(now)
        if status.disabled:
            flag = f"<span class=bad>{e(h('disabled'))}</span>"
        elif silent is None:
            flag = f"<span class=bad>{e(h('never'))}</span>"
        elif silent > settings.silent_after:
            minutes = int(silent.total_seconds() // 60)
            flag = f"<span class=bad>{e(h('silent', minutes=minutes))}</span>"
        else:
            flag = f"<span class=ok>{e(h('online'))}</span>"
        faults = ", ".join(e(f) for f in status.faults) or "—"
        acked = "; ".join(f"{e(k[:8])}…: {v}" for k, v in status.epochs.items()) or "—"
        backlog = "—" if status.backlog is None else str(status.backlog)
        rows.append(f"<tr><td>{e(status.id)}</td><td>{e(status.enterprise)}</td>"
                    f"<td>{e(status.last_heartbeat or '—')}</td><td>{flag}</td>"
                    f"<td>{backlog}</td><td class={'bad' if status.faults else 'ok'}>{faults}"
                    f"</td><td>{acked}</td></tr>")
    summary = "".join(
        f"<tr><td>{e(row['enterprise'])}</td><td>{row['entries']}</td><td>{row['admitted']}</td>"
        f"<td>{row['denied']}</td><td>{row['vehicles']}</td><td>{row['visitors']}</td></tr>"
        for row in store.day_summary(now.date())) or "<tr><td colspan=6>—</td></tr>"
    alarms = "".join(
        f"<tr><td class=bad>{e(str(a.get('corrected_time') or a.get('time') or ''))}</td>"
        f"<td>{e(a['station'])}</td><td>{e(a['enterprise'])}</td>"
        f"<td>{e(str(a.get('subject') or '—'))}</td><td>{e(str(a.get('name') or ''))}</td>"
        f"<td class=bad>{e(str(a.get('temperature_c')))}</td>"
        f"<td>{_ack_cell(a.get('ack'), locale)}</td></tr>"
        for a in store.alarms(limit=50)) or "<tr><td colspan=7>—</td></tr>"
    if settings.bundle_key is not None:  # online signing: show the bundle stations get next
        store.sign_if_needed(settings.bundle_key, settings.bundle_lifetime)
    served = store.served_bundle()
    if served is None:
        bundle = f"<span class=bad>{e(h('bundle-none'))}</span>"
    else:
        bundle = e(h("bundle-serial", serial=served.serial, expires=served.expires,
                     kid_hex=served.kid.hex))
        if served.stale:
            bundle += f" <span class=bad>{e(h('bundle-stale'))}</span>"
    return (
        f"<p>{e(h('updated'))} {e(now.isoformat(timespec='seconds'))}</p>"
        f"<h2>{e(h('stations'))}</h2><table><tr><th>{e(h('station'))}</th>"
        f"<th>{e(h('enterprise'))}</th><th>{e(h('last-heartbeat'))}</th>"
        f"<th>{e(h('status'))}</th><th>{e(h('backlog'))}</th><th>{e(h('faults'))}</th>"
        f"<th>{e(h('acked'))}</th></tr>{''.join(rows)}</table>"
        f"<h2>{e(h('today', day=now.date()))}</h2><table><tr><th>{e(h('enterprise'))}</th>"
        f"<th>{e(h('entries'))}</th><th>{e(h('admitted'))}</th><th>{e(h('denied'))}</th>"
        f"<th>{e(h('vehicles'))}</th><th>{e(h('visitors'))}</th></tr>"
        f"{summary}</table><h2>{e(h('alarms'))}</h2><table><tr><th>{e(h('time'))}</th>"
        f"<th>{e(h('station'))}</th><th>{e(h('enterprise'))}</th><th>{e(h('subject'))}</th>"
        f"<th>{e(h('name'))}</th><th>°C</th><th>{e(h('handled'))}</th></tr>{alarms}</table>"
        f"<h2>{e(h('bundle'))}</h2><p>{bundle}</p>")


def _ack_cell(ack: Any, locale: Locale) -> str:
    if not isinstance(ack, dict):
        return f"<span class=bad>{e(texts.html('unhandled', locale))}</span>"
    return e(f"{ack.get('action', '')} {ack.get('time', '')}".strip())
