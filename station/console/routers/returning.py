"""Returning workers: day-7 and day-14 tests due today or tomorrow, and overdue; CSV and
XLSX exports."""

from __future__ import annotations

import csv
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from station.console.deps import ConsoleDep, OfficerUser, PageDep, ReadLedger
from station.console.downloads import CSV, XLSX, file_download
from station.console.excel import followup_header, followup_values, write_followups
from station.console.params import Query, today
from station.console.returning import followups
from station.console.tables import followup_rows
from station.console.web import render
from station.present import csv_text

router = APIRouter(tags=["returning"])


@router.get("/returning", response_class=HTMLResponse)
def returning_page(page: PageDep, user: OfficerUser, ledger: ReadLedger,
                   console: ConsoleDep) -> HTMLResponse:
    """Follow-up tests of returning workers for a day (default today)."""
    query = Query(page, {"date"})
    day = query.day("date", today()) or today()
    query.done()
    items = followups(ledger, day, console.policy())
    return render(console.templates, page, "returning.html", day=day, items=items,
                  header=followup_header(page.locale),
                  body=followup_rows(items, page.locale))


@router.get("/returning.xlsx")
def returning_xlsx(page: PageDep, user: OfficerUser, console: ConsoleDep) -> FileResponse:
    query = Query(page, {"date"})
    day = query.day("date", today()) or today()
    query.done()
    title = page.t("returning.title_for", enterprise=console.config.station.enterprise
                   or console.config.station.id, day=day)

    def write(path: Path) -> None:
        with console.open_ledger() as ledger:
            write_followups(path, followups(ledger, day, console.policy()), title, page.locale)

    return file_download(write, f"returning-{day}.xlsx", XLSX)


@router.get("/returning.csv")
def returning_csv(page: PageDep, user: OfficerUser, console: ConsoleDep) -> FileResponse:
    query = Query(page, {"date"})
    day = query.day("date", today()) or today()
    query.done()

    def write(path: Path) -> None:
        with console.open_ledger() as ledger:
            items = followups(ledger, day, console.policy())
        with path.open("w", encoding="utf-8", newline="") as out:
            out.write("\ufeff")
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(followup_header(page.locale))
            for item in items:
                writer.writerow([csv_text(v) for v in followup_values(item, page.locale)])

    return file_download(write, f"returning-{day}.csv", CSV)
