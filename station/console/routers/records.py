"""Records: search by date range, subject, decision, reason and kind, paged; one record's
full detail (every reading, reasons in words, sync state). Also as JSON (`/api/v1/records`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

from station.console.deps import ConsoleDep, OfficerUser, PageDep, ReadLedger
from station.console.params import Query, today
from station.console.web import render
from station.ledger import Ledger
from station.messages import REASON_MESSAGES

router = APIRouter(tags=["records"])
PAGE_SIZE = 50
MAX_PAGE = 200  # 10,000 records: narrow the search to see further
KINDS = ("entry", "exit", "fault", "alarm")
DECISIONS = ("admit", "deny")
FILTERS = {"from", "to", "subject", "decision", "reason", "kind", "page"}


def search(ledger: Ledger, query: Query) -> dict[str, Any]:
    first, last = query.day_range("from", "to", today(), today())
    filters = {"subject": query.text("subject", 64), "decision": query.choice("decision",
                                                                              DECISIONS),
               "reason": query.choice("reason", REASON_MESSAGES),
               "kind": query.choice("kind", KINDS)}
    number = query.number("page", 1, MAX_PAGE, 1)
    query.done()
    records, total = ledger.search(first_day=first.isoformat(), last_day=last.isoformat(),
                                   limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE,
                                   count_up_to=MAX_PAGE * PAGE_SIZE, **filters)
    pages = max(1, min(MAX_PAGE, -(-total // PAGE_SIZE)))
    if number > pages:
        query.problems.append(query.page.t("bad.page_beyond", page=number, pages=pages))
        query.done()
    return {"first": first, "last": last, "filters": filters, "records": records,
            "total": total, "page_number": number, "pages": pages,
            "capped": total >= MAX_PAGE * PAGE_SIZE}


@router.get("/records", response_class=HTMLResponse)
def records_page(page: PageDep, user: OfficerUser, ledger: ReadLedger,
                 console: ConsoleDep) -> HTMLResponse:
    """Search the ledger (a day, by default today), newest first, 50 a page."""
    found = search(ledger, Query(page, FILTERS))
    return render(console.templates, page, "records.html", kinds=KINDS, decisions=DECISIONS,
                  reasons=sorted(REASON_MESSAGES), **found)


@router.get("/records/{seq}", response_class=HTMLResponse)
def record_detail(seq: int, page: PageDep, user: OfficerUser, ledger: ReadLedger,
                  console: ConsoleDep) -> HTMLResponse:
    """One record in full: readings, reasons in words, clock and sync state."""
    record = ledger.record_by_seq(seq) if 0 < seq < 2**63 else None
    if record is None:
        return render(console.templates, page, "error.html", 404,
                      problems=[page.t("records.missing", seq=seq)])
    return render(console.templates, page, "record.html", record=record,
                  synced=ledger.synced_flag(seq))


@router.get("/api/v1/records")
def records_json(page: PageDep, user: OfficerUser, ledger: ReadLedger) -> JSONResponse:
    """The same search as JSON (sync.md's record fields); 400 with `problems` on bad input."""
    found = search(ledger, Query(page, FILTERS))
    return JSONResponse({"total": found["total"], "page": found["page_number"],
                         "pages": found["pages"],
                         "records": [r.to_json() for r in found["records"]]})
