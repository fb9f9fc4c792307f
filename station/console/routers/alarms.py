"""Fever alarms, newest first (guards and officers)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from station.console.deps import ConsoleDep, CurrentUser, PageDep, ReadLedger
from station.console.params import Query
from station.console.web import render

router = APIRouter(tags=["alarms"])
PAGE_SIZE = 50
MAX_PAGE = 1000


@router.get("/alarms", response_class=HTMLResponse)
def alarms_page(page: PageDep, user: CurrentUser, ledger: ReadLedger,
                console: ConsoleDep) -> HTMLResponse:
    """Every fever alarm, newest first by event time, 50 a page."""
    query = Query(page, {"page"})
    number = query.number("page", 1, MAX_PAGE, 1)
    query.done()
    total = ledger.alarm_count()
    pages = max(1, -(-total // PAGE_SIZE))
    if number > pages:
        query.problems.append(page.t("bad.page_beyond", page=number, pages=pages))
        query.done()
    alarms = ledger.alarms_page(PAGE_SIZE, (number - 1) * PAGE_SIZE)
    return render(console.templates, page, "alarms.html", alarms=alarms, total=total,
                  page_number=number, pages=pages)
