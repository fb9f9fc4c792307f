"""Fever alarms (guards and officers): unhandled ones first, each with a form to record how
it was handled (an `ack`, routers/guard.py); then every alarm, newest first, with its state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from station.console.deps import ConsoleDep, CurrentUser, PageDep
from station.console.params import Query
from station.console.state import Console
from station.console.web import Page, render
from station.registration import ACK_ACTIONS

router = APIRouter(tags=["alarms"])
PAGE_SIZE = 50
# A handling form each: a station that ran for months before its guards had the console may
# hold thousands of unhandled alarms; the newest are the ones a guard can still act on.
UNHANDLED_SHOWN = 50
MAX_PAGE = 1000


def alarms_view(page: Page, console: Console, number: int, *,
                ack_errors: dict[str, dict[str, str]] | None = None,
                ack_values: dict[str, dict[str, Any]] | None = None,
                acked: bool = False, status: int = 200, query: Query | None = None
                ) -> HTMLResponse:
    with console.open_ledger() as ledger:
        total = ledger.alarm_count()
        pages = max(1, -(-total // PAGE_SIZE))
        if number > pages and query is not None:
            query.problems.append(page.t("bad.page_beyond", page=number, pages=pages))
            query.done()
        alarms = ledger.alarms_page(PAGE_SIZE, (number - 1) * PAGE_SIZE)
        unhandled = ledger.unhandled_alarms(UNHANDLED_SHOWN)
        unhandled_total = ledger.unhandled_alarm_count()
        acks = {a.event_id: ledger.latest_ack(a.event_id) for a in alarms}
    return render(console.templates, page, "alarms.html", status, alarms=alarms, total=total,
                  page_number=number, pages=pages, unhandled=unhandled,
                  unhandled_total=unhandled_total, acks=acks,
                  actions=ACK_ACTIONS, ack_errors=ack_errors or {},
                  ack_values=ack_values or {}, acked=acked)


@router.get("/alarms", response_class=HTMLResponse)
def alarms_page(page: PageDep, user: CurrentUser, console: ConsoleDep) -> HTMLResponse:
    """Unhandled alarms first (the newest 50, each with the handling form), then every alarm,
    newest first by event time, 50 a page."""
    query = Query(page, {"page", "acked"})
    number = query.number("page", 1, MAX_PAGE, 1)
    query.done()
    return alarms_view(page, console, number, acked=bool(query.raw("acked")), query=query)
