"""The gate page (live), its event stream, and the kiosk display (`/display`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from station.console.deps import (
    SESSION_COOKIE,
    ConsoleDep,
    CurrentUser,
    LocaleDep,
    LoginRequired,
    PageDep,
    ReadLedger,
    optional_session,
)
from station.console.live import event_stream, resume_point
from station.console.state import Console
from station.console.web import Page, render, today_text
from station.ledger import RECOVERED, Ledger

router = APIRouter(tags=["gate"])
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def gate_summary(console: Console, ledger: Ledger) -> dict[str, Any]:
    """Today's counts, open device faults, the sync backlog (the gate page's header)."""
    faults = {device: record.detail for device, record in ledger.latest_faults().items()
              if not (record.detail or "").startswith(RECOVERED)}
    return {"counts": ledger.day_totals(today_text()), "faults": faults,
            "backlog": ledger.sync_summary()["backlog"],
            "unhandled": ledger.unhandled_alarm_count()}


@router.get("/", response_class=HTMLResponse)
def gate_page(page: PageDep, user: CurrentUser, ledger: ReadLedger,
              console: ConsoleDep) -> HTMLResponse:
    """The gate, live: the newest records (new ones appear within a second), today's counts,
    open device faults and the sync backlog."""
    records = ledger.latest_records(30)
    return render(console.templates, page, "gate.html", summary=gate_summary(console, ledger),
                  records=records, after=ledger.max_seq(), today=today_text())


def _session_check(console: Console, request: Request) -> Any:
    token = request.cookies.get(SESSION_COOKIE, "")
    return lambda: console.accounts.session(token) is not None


@router.get("/events")
async def gate_events(request: Request, user: CurrentUser, console: ConsoleDep,
                      locale: LocaleDep, after: int | None = None) -> StreamingResponse:
    """Server-sent events: `record` for each new record, `counts` after each batch."""
    def latest() -> int:
        with console.open_ledger() as ledger:
            return ledger.max_seq()

    def counts() -> dict[str, Any]:
        with console.open_ledger() as ledger:
            return gate_summary(console, ledger)

    start = resume_point(request, after, latest)
    stream = event_stream(console, request, start, locale, ("entry", "exit", "alarm", "fault"),
                          masked=False, still_allowed=_session_check(console, request),
                          counts=counts)
    return StreamingResponse(stream, media_type="text/event-stream", headers=STREAM_HEADERS)


def display_allowed(request: Request, console: Console) -> bool:
    """The kiosk page: any logged-in user, or a screen at an address in display_from."""
    client = request.client.host if request.client else ""
    if client and client in console.config.console.display_from:
        return True
    return optional_session(request, console) is not None


@router.get("/display", response_class=HTMLResponse)
def display_page(request: Request, console: ConsoleDep, locale: LocaleDep) -> Response:
    """Kiosk page for a screen at the gate: the last decision in large type (green/red,
    masked name, temperature, the reason in words), then back to "请出示健康码"."""
    if not display_allowed(request, console):
        raise LoginRequired
    page = Page(request, locale, getattr(request.state, "session", None))
    with console.open_ledger() as ledger:
        after = ledger.max_seq()
        unhandled = ledger.unhandled_alarm_count()
    return render(console.templates, page, "display.html", after=after, unhandled=unhandled,
                  hold_ms=int(console.config.console.display_seconds * 1000))


@router.get("/display/events")
async def display_events(request: Request, console: ConsoleDep, locale: LocaleDep,
                         after: int | None = None) -> StreamingResponse:
    """Server-sent events for the display: entries only, names masked; `counts` carries
    the number of unhandled fever alarms (the guard's reminder)."""
    if not display_allowed(request, console):
        raise LoginRequired

    def latest() -> int:
        with console.open_ledger() as ledger:
            return ledger.max_seq()

    start = resume_point(request, after, latest)
    def unhandled() -> dict[str, Any]:
        with console.open_ledger() as ledger:
            return {"unhandled": ledger.unhandled_alarm_count()}

    stream = event_stream(console, request, start, locale, ("entry",), masked=True,
                          still_allowed=lambda: display_allowed(request, console),
                          counts=unhandled)
    return StreamingResponse(stream, media_type="text/event-stream", headers=STREAM_HEADERS)

