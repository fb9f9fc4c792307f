"""The daily register (体温登记表): page with print layout, XLSX (one day, or one sheet per
day of a range up to 31 days) and CSV downloads — the same data as `report daily`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from station.console.deps import ConsoleDep, OfficerUser, PageDep, ReadLedger
from station.console.downloads import CSV, XLSX, file_download
from station.console.excel import register_header, write_registers
from station.console.params import Query, today
from station.console.tables import register_rows
from station.present import daily_csv
from station.reports import daily_report

router = APIRouter(tags=["register"])
MAX_XLSX_DAYS = 31


@router.get("/register", response_class=HTMLResponse)
def register_page(page: PageDep, user: OfficerUser, ledger: ReadLedger,
                  console: ConsoleDep) -> HTMLResponse:
    """One day's register: everyone's first entry with temperature, colour and decision;
    totals; fever alarms; a signature line; prints on A4."""
    query = Query(page, {"date"})
    day = query.day("date", today()) or today()
    query.done()
    report = daily_report(ledger, day, console.policy(), due=False)  # the page shows none
    from station.console.web import render

    return render(console.templates, page, "register.html", report=report, rows=report.people,
                  body=register_rows(report.people, page.locale),
                  header=register_header(page.locale), day=day,
                  enterprise=console.config.station.enterprise or console.config.station.id,
                  previous=day - dt.timedelta(days=1), following=day + dt.timedelta(days=1))


@router.get("/register.xlsx")
def register_xlsx(page: PageDep, user: OfficerUser, console: ConsoleDep) -> FileResponse:
    """The register as XLSX: `date` for one day, or `from` and `to` (≤ 31 days), one sheet
    per day."""
    query = Query(page, {"date", "from", "to"})
    day = query.day("date")
    first, last = query.day_range("from", "to", day or today(), day or today())
    if day is not None and (query.raw("from") or query.raw("to")):
        query.problems.append(page.t("bad.date_or_range"))
    if (last - first).days >= MAX_XLSX_DAYS:
        query.problems.append(page.t("bad.xlsx_days", days=MAX_XLSX_DAYS))
    query.done()
    enterprise = console.config.station.enterprise or console.config.station.id
    policy = console.policy()

    def write(path: Path) -> None:
        with console.open_ledger() as ledger:
            days = (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
            write_registers(path, (daily_report(ledger, d, policy, due=False) for d in days),
                            enterprise, page.locale)

    name = f"register-{first}.xlsx" if first == last else f"register-{first}-{last}.xlsx"
    return file_download(write, name, XLSX)


@router.get("/register.csv")
def register_csv(page: PageDep, user: OfficerUser, console: ConsoleDep) -> FileResponse:
    """The register as CSV (UTF-8 with BOM), the same file as `report daily --csv`."""
    query = Query(page, {"date"})
    day = query.day("date", today()) or today()
    query.done()

    def write(path: Path) -> None:
        with console.open_ledger() as ledger:
            report = daily_report(ledger, day, console.policy())
        with path.open("w", encoding="utf-8", newline="") as out:
            daily_csv(report, out)

    return file_download(write, f"register-{day}.csv", CSV)
