"""The town office console: the town's working tool behind the dashboard login (/office).

Server-rendered HTML, Chinese first with an English switch, no script at all, SVG charts
drawn on the server, Excel exports of every table, administration forms behind CSRF that
write through the store functions the CLI uses (audited). `install(app)` adds its routes to
the town server's app; its reads are in `queries` (portable SQL).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from sync.town.auth import current_session
from sync.town.office import admin, pages
from sync.town.office.web import LoginNeeded, Page, Problem, make_environment, render

STATIC = Path(__file__).with_name("static")
STATIC_FILES = {"office.css": "text/css"}


def install(app: FastAPI) -> None:
    """Add the console's pages, its stylesheet and its error answers to `app`."""
    env = make_environment()
    app.include_router(pages.install(app, env))
    app.include_router(admin.install(app, env))

    @app.get("/office/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(404, "no such file")
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    def problem(request: Request, error: Exception) -> Response:
        assert isinstance(error, Problem)
        return render(env, Page(request, current_session(request)), "error.html",
                      status=error.status, message=error.message)

    async def login_needed(_request: Request, _error: Exception) -> Response:
        return RedirectResponse("/", status_code=303)

    app.add_exception_handler(Problem, problem)
    app.add_exception_handler(LoginNeeded, login_needed)
