"""The daily vehicle register (车辆登记表) and visitor register (外来人员登记表): page with
print layout, XLSX and CSV — the same data as `gate-station report vehicles|visitors`
(station/registers.py). Guards (who keep them) and officers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from station import registers as visits
from station.console.deps import ConsoleDep, CurrentUser, PageDep, ReadLedger
from station.console.downloads import CSV, XLSX, file_download
from station.console.excel import write_visit_registers
from station.console.params import Query, today
from station.console.web import render
from station.messages import text

router = APIRouter(tags=["registers"])
Plural = Literal["vehicles", "visitors"]


def _kind(plural: Plural) -> visits.Kind:
    return "vehicle" if plural == "vehicles" else "visitor"


def register_page(plural: Plural, page: PageDep, user: CurrentUser, ledger: ReadLedger,
                  console: ConsoleDep) -> HTMLResponse:
    """One day's vehicles or visitors, in order of arrival, with when each left; prints on
    A4 landscape."""
    query = Query(page, {"date"})
    day = query.day("date", today()) or today()
    query.done()
    register = visits.visit_register(ledger, _kind(plural), day)
    enterprise = console.config.station.enterprise or console.config.station.id
    return render(console.templates, page, "visits.html", register=register,
                  title=visits.title(register, enterprise, page.locale),
                  totals=visits.totals(register, page.locale),
                  header=visits.header(register.kind, page.locale),
                  rows=[[visits.cell_text(v) for v in row]
                        for row in visits.rows(register, page.locale)],
                  signature=text("visits.signature", page.locale),
                  plural=plural, day=day, previous=day - dt.timedelta(days=1),
                  following=day + dt.timedelta(days=1))


def register_xlsx(plural: Plural, page: PageDep, user: CurrentUser,
                  console: ConsoleDep) -> FileResponse:
    query = Query(page, {"date"})
    day = query.day("date", today()) or today()
    query.done()
    enterprise = console.config.station.enterprise or console.config.station.id

    def write(path: Path) -> None:
        with console.open_ledger() as ledger:
            register = visits.visit_register(ledger, _kind(plural), day)
        write_visit_registers(path, [register], enterprise, page.locale)

    return file_download(write, f"{plural}-{day}.xlsx", XLSX)


def register_csv(plural: Plural, page: PageDep, user: CurrentUser,
                 console: ConsoleDep) -> FileResponse:
    query = Query(page, {"date"})
    day = query.day("date", today()) or today()
    query.done()

    def write(path: Path) -> None:
        with console.open_ledger() as ledger:
            register = visits.visit_register(ledger, _kind(plural), day)
        path.write_text(visits.register_csv(register, page.locale), encoding="utf-8")

    return file_download(write, f"{plural}-{day}.csv", CSV)


def _route(plural: Plural) -> None:
    """The three routes of one register (explicit paths: an unknown page stays a 404)."""

    def page_route(page: PageDep, user: CurrentUser, ledger: ReadLedger,
                   console: ConsoleDep) -> HTMLResponse:
        return register_page(plural, page, user, ledger, console)

    def xlsx_route(page: PageDep, user: CurrentUser, console: ConsoleDep) -> FileResponse:
        return register_xlsx(plural, page, user, console)

    def csv_route(page: PageDep, user: CurrentUser, console: ConsoleDep) -> FileResponse:
        return register_csv(plural, page, user, console)

    router.add_api_route(f"/{plural}", page_route, methods=["GET"],
                         response_class=HTMLResponse, name=f"{plural}_register")
    router.add_api_route(f"/{plural}.xlsx", xlsx_route, methods=["GET"],
                         name=f"{plural}_register_xlsx")
    router.add_api_route(f"/{plural}.csv", csv_route, methods=["GET"],
                         name=f"{plural}_register_csv")


_route("vehicles")
_route("visitors")
