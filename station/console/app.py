"""The console's ASGI app: `create_app(console)`; `serve(config)` runs it under uvicorn.

Handlers are plain functions (FastAPI runs them on its thread pool, so SQLite work never
blocks the event loop); only the event streams are async. Failures become pages, never
tracebacks: LoginRequired → the login page (401 JSON under /api/), Forbidden and a refused
CSRF token → 403, BadInput → 400 with every problem listed, LedgerError → 503, anything
else → 500 with a one-line message (the traceback goes to the log only).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from station.config import Config
from station.console import texts
from station.console.accounts import AccountStore
from station.console.deps import BadInput, CsrfRefused, Forbidden, LoginRequired
from station.console.routers import (
    alarms,
    api,
    auth,
    gate,
    guard,
    health,
    records,
    register,
    returning,
    stats,
    visits,
    whatif,
)
from station.console.state import Console
from station.console.web import HERE, Page, render, request_locale, security_headers
from station.ledger import LedgerError

log = logging.getLogger("gate-station.console")
texts.register()


def create_app(console: Console) -> FastAPI:
    app = FastAPI(title="gate-station console", version="1", docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="The station console: gate, register, records, alarms, "
                              "returning workers, statistics, health, policy what-if")
    app.state.console = console
    app.middleware("http")(security_headers)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (auth, api, gate, guard, register, records, alarms, returning, stats, health,
                   whatif, visits):
        app.include_router(module.router)

    def page_for(request: Request) -> Page:
        return Page(request, request_locale(request, console.config.station.locale),
                    getattr(request.state, "session", None))

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(LoginRequired)
    def login_required(request: Request, _: LoginRequired) -> Response:
        if wants_json(request) or request.url.path.endswith("/events"):
            return JSONResponse({"detail": "login required"}, 401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", 303)

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, _: Forbidden) -> Response:
        page = page_for(request)
        if wants_json(request):
            return JSONResponse({"detail": page.t("forbidden")}, 403)
        return render(console.templates, page, "error.html", 403,
                      problems=[page.t("forbidden")])

    @app.exception_handler(CsrfRefused)
    def csrf_refused(request: Request, _: CsrfRefused) -> Response:
        page = page_for(request)
        if wants_json(request):
            return JSONResponse({"detail": page.t("csrf")}, 403)
        return render(console.templates, page, "error.html", 403, problems=[page.t("csrf")])

    @app.exception_handler(BadInput)
    def bad_input(request: Request, error: BadInput) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": "bad request", "problems": error.problems}, 400)
        return render(console.templates, page_for(request), "error.html", 400,
                      problems=error.problems)

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, error: RequestValidationError) -> Response:
        page = page_for(request)
        problems = [page.t("bad.field", name=".".join(str(p) for p in e.get("loc", ())[1:]),
                           value=str(e.get("input", ""))[:40]) for e in error.errors()]
        if wants_json(request):
            return JSONResponse({"detail": "bad request", "problems": problems}, 400)
        return render(console.templates, page, "error.html", 400, problems=problems)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> Response:
        page = page_for(request)
        if wants_json(request):
            return JSONResponse({"detail": str(error.detail)}, error.status_code)
        message = page.t("not_found") if error.status_code == 404 else str(error.detail)
        return render(console.templates, page, "error.html", error.status_code,
                      problems=[message])

    @app.exception_handler(LedgerError)
    def ledger_error(request: Request, error: LedgerError) -> Response:
        log.error("ledger: %s", error)
        page = page_for(request)
        if wants_json(request):
            return JSONResponse({"detail": str(error)}, 503)
        return render(console.templates, page, "error.html", 503,
                      problems=[page.t("ledger_unavailable"), str(error)])

    @app.exception_handler(Exception)
    def unexpected(request: Request, error: Exception) -> Response:
        log.exception("console: %s %s failed", request.method, request.url.path)
        page = page_for(request)
        if wants_json(request):
            return JSONResponse({"detail": "internal error"}, 500)
        return render(console.templates, page, "error.html", 500,
                      problems=[page.t("internal", error=type(error).__name__)])

    return app


def make_console(config: Config, *, ledger_path: str | Path | None = None) -> Console:
    """The console's state for `config` (accounts file opened, created if missing)."""
    settings = config.console
    accounts = AccountStore(settings.accounts_path, idle_s=settings.session_idle_minutes * 60,
                            max_s=settings.session_max_hours * 3600)
    return Console(config=config, accounts=accounts,
                   ledger_path=Path(ledger_path or config.ledger.path))


def serve(config: Config, *, ledger_path: str | None = None, listen: str | None = None) -> None:
    """Run the console under uvicorn until SIGTERM/SIGINT."""
    import uvicorn

    _return_big_blocks_to_the_os()
    console = make_console(config, ledger_path=ledger_path)
    host, _, port = (listen or config.console.listen).rpartition(":")
    uvicorn.run(create_app(console), host=host.strip("[]"), port=int(port),
                log_level="info", proxy_headers=False, server_header=False)


def _return_big_blocks_to_the_os() -> None:
    """Fix glibc's mmap threshold at 1 MiB. Each login's Argon2 verification (19 MiB, in a
    worker thread) otherwise lands in the thread's malloc arena after the first free raises
    the dynamic threshold, and stays in the console's RSS (+19 MB idle). Not glibc: no-op."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(-3, 1024 * 1024)  # M_MMAP_THRESHOLD
