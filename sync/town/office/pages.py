"""The town office console's reading pages (behind the dashboard login), under /office:

- `/office` — compliance per enterprise on a day (date picker) and the 14-day trend;
- `/office/enterprise?name=` → `/office/station/{id}` → its records (the drill-down);
- `/office/trace` — every record of one worker id across all enterprises (contact tracing);
- `/office/returning` — returning workers, their day-7/day-14 tests, where last seen;
- `/office/alarms` — fever alarms across the town with their handled state;
- `/office/health` — station health over 14 days;
- `/office/audit` — the audit table.

Every table page answers `?format=xlsx` with the same table as an Excel file. A bad date, a
too-long range, an unknown enterprise or station is a 4xx page naming the problem.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment

from station.bundle import check_rules
from station.clock import CST
from station.config import PolicySettings
from station.console.charts import Chart, Series, chart
from sync.town.auth import current_session, store_of
from sync.town.office import health as history_of
from sync.town.office import queries, report, xlsx
from sync.town.office.report import Compliance
from sync.town.office.texts import LOCALES
from sync.town.office.web import (
    LANG_COOKIE,
    LoginNeeded,
    Page,
    Problem,
    parse_choice,
    parse_count,
    parse_day,
    parse_range,
    render,
    today,
    wants_xlsx,
)
from sync.town.signing import nest_rules
from sync.town.store import Session, StoreError

PAGE_ROWS = 200
TRACE_LIMIT = 5000
XLSX_ROWS = 10000
CONTACT_WINDOWS = ("15", "5", "30", "60")  # minutes around each sighting; the first is default


def office_session(request: Request) -> Session:
    session = current_session(request)
    if session is None:
        raise LoginNeeded
    return session


OfficeSession = Annotated[Session, Depends(office_session)]


def db_of(request: Request) -> Any:
    """The store's database object (every read goes through its `query`)."""
    return store_of(request).db  # type: ignore[attr-defined]


def policy_of(request: Request) -> PolicySettings:
    """The station defaults with the town's rules laid over them (what its bundle says)."""
    try:
        return check_rules(nest_rules(store_of(request).rules()))  # type: ignore[attr-defined]
    except (StoreError, ValueError):
        return PolicySettings()


def compliance_values(c: Compliance, page: Page) -> list[Any]:
    reasons = "; ".join(f"{page.reason(r)} {n}" for r, n in c.reasons.most_common())
    return [c.day, c.enterprise, c.stations, c.reporting, c.online, c.silent, c.people,
            c.entries, c.denied, reasons, c.fevers, c.unhandled, c.faults, c.vehicles,
            c.visitors]


COMPLIANCE_HEADER = ("col.day", "col.enterprise", "col.stations", "col.reporting", "col.online",
                     "col.silent", "col.people", "col.entries", "col.denied", "col.reasons",
                     "col.fevers", "col.unhandled", "col.faults", "col.vehicles",
                     "col.visitors")


def trend_charts(page: Page, days: list[dt.date], per_day: dict[str, Compliance]
                 ) -> list[Chart]:
    labels = [d.strftime("%m-%d") for d in days]
    rows = [per_day[d.isoformat()] for d in days]
    return [
        chart(page.t("chart.people-title"), labels, [
            Series(page.t("chart.people"), [c.people for c in rows]),
            Series(page.t("chart.denied"), [c.denied for c in rows])], label_every=2),
        chart(page.t("chart.alarms-title"), labels, [
            Series(page.t("chart.fevers"), [c.fevers for c in rows]),
            Series(page.t("chart.unhandled"), [c.unhandled for c in rows], kind="line")],
            label_every=2),
    ]


def install(app: Any, env: Environment) -> APIRouter:
    """The reading pages' routes."""
    router = APIRouter(prefix="/office", include_in_schema=False)
    settings = app.state.settings

    @router.get("")
    def overview(request: Request, session: OfficeSession) -> Response:
        page = Page(request, session)
        day = parse_day(request, "date", today())
        days = report.window(day)
        table = report.compliance(db_of(request), days[0], day, now=dt.datetime.now(CST),
                                  silent_after=settings.silent_after)
        if wants_xlsx(request):
            return xlsx.download(f"town-compliance-{days[0]}-{day}.xlsx",
                                 page.t("overview.trend", first=days[0], last=day),
                                 [page.t(h) for h in COMPLIANCE_HEADER],
                                 (compliance_values(c, page) for d in reversed(days)
                                  for c in table[d.isoformat()].values()))
        town = {d.isoformat(): report.totals(table[d.isoformat()]) for d in days}
        rows = sorted(table[day.isoformat()].values(),
                      key=lambda c: (not c.nobody, -c.unhandled, c.enterprise))
        return render(env, page, "overview.html", day=day, days=days, rows=rows,
                      town=town, charts=trend_charts(page, days, town),
                      cache_minutes=int(report.PAST_DAYS_TTL // 60))

    @router.get("/enterprise")
    def enterprise(request: Request, session: OfficeSession) -> Response:
        page = Page(request, session)
        name = request.query_params.get("name", "")
        day = parse_day(request, "date", today())
        db = db_of(request)
        stations = queries.stations(db, name)
        if not name or not stations:
            raise Problem(404, page.t("error.no-enterprise", name=name[:64]))
        days = report.window(day)
        table = report.compliance(db, days[0], day, now=dt.datetime.now(CST),
                                  silent_after=settings.silent_after, enterprise=name)
        per_day = {d: next(iter(table[d].values())) for d in table}
        by_station = {(r["station"], r["day"]): r for r in
                      queries.station_days(db, day, day, enterprise=name)}
        now = dt.datetime.now(CST)
        station_rows = [{**s, "silent": report.silent(s["last_heartbeat"], now,
                                                      settings.silent_after),
                         "day": by_station.get((s["id"], day.isoformat()), {})}
                        for s in stations]
        if wants_xlsx(request):
            return xlsx.download(
                f"enterprise-{day}.xlsx", page.t("enterprise.title", name=name) + f" {day}",
                [page.t(h) for h in ("col.station", "col.status", "col.last-heartbeat",
                                     "col.records", "col.people", "col.entries",
                                     "col.denied", "col.fevers", "col.faults", "col.late")],
                ([s["id"], page.t(status_key(s)), s["last_heartbeat"],
                  *[s["day"].get(k, 0) for k in ("records", "people", "entries", "denied",
                                                 "fevers", "faults", "late")]]
                 for s in station_rows))
        return render(env, page, "enterprise.html", name=name, day=day, days=days,
                      per_day=per_day, stations=station_rows,
                      charts=trend_charts(page, days, per_day))

    @router.get("/station/{station_id}")
    def station(station_id: str, request: Request, session: OfficeSession) -> Response:
        page = Page(request, session)
        db = db_of(request)
        found = queries.station(db, station_id)
        if found is None:
            raise Problem(404, page.t("error.no-station", id=station_id[:64]))
        day = parse_day(request, "date", today())
        after = parse_count(request, "after")
        part = parse_choice(request, "part", ("records", "health"))
        days = report.window(day)
        if wants_xlsx(request) and part == "health":
            return xlsx.download(
                f"station-{station_id}-health-{days[0]}-{day}.xlsx",
                page.t("station.history-sheet", id=station_id, first=days[0], last=day),
                [page.t(h) for h in ("col.slot", "col.first-beat", "col.last-beat",
                                     "col.beats", "col.backlog-max", "col.backlog-last",
                                     "col.fault-devices")],
                (history_of.slot_values(s) for s in
                 queries.heartbeat_slots(db, days[0], day, station_id)))
        if wants_xlsx(request):
            records = queries.station_records(db, station_id, day, after=after,
                                              limit=XLSX_ROWS)
            return xlsx.download(f"station-{station_id}-{day}.xlsx",
                                 page.t("station.title", id=station_id,
                                        enterprise=found["enterprise"]) + f" {day}",
                                 record_header(page), (record_values(r, page) for r in records))
        records = queries.station_records(db, station_id, day, after=after, limit=PAGE_ROWS)
        now = dt.datetime.now(CST)
        day_health = history_of.day_health(queries.heartbeat_slots(db, day, day, station_id),
                                           day, now, settings.silent_after)
        history = {r["day"]: r for r in report.station_history(
            db, days, dt.datetime.now(CST).date(), station_id=station_id)}
        labels = [d.strftime("%m-%d") for d in days]
        values = [history.get(d.isoformat(), {}) for d in days]
        health = chart(page.t("chart.health-title"), labels, [
            Series(page.t("chart.records"), [v.get("records", 0) for v in values]),
            Series(page.t("chart.late"), [v.get("late", 0) for v in values]),
            Series(page.t("chart.faults"), [v.get("faults", 0) for v in values], kind="line")],
            label_every=2)
        next_after = records[-1]["id"] if len(records) == PAGE_ROWS else None
        beat = report.json_object(found["heartbeat"])
        return render(env, page, "station.html", station=found, day=day, days=days,
                      records=records, next_after=next_after, history=history,
                      charts=[health], beat=beat, day_health=day_health,
                      day_charts=day_charts(page, day, day_health),
                      epochs=queries.epochs(db, station_id),
                      faults=queries.fault_devices(db, days[0], day, station_id),
                      state_key=status_key({**found, "silent": report.silent(
                          found["last_heartbeat"], dt.datetime.now(CST),
                          settings.silent_after)}),
                      detail=lambda r: record_detail(r, page))

    @router.get("/trace")
    def trace(request: Request, session: OfficeSession) -> Response:
        page = Page(request, session)
        subject = request.query_params.get("subject", "").strip()
        first, last = parse_range(request, today(), 14, queries.MAX_RANGE_DAYS)
        if len(subject) > 32:
            raise Problem(400, page.t("error.subject"))
        minutes = int(parse_choice(request, "window", CONTACT_WINDOWS))
        part = parse_choice(request, "part", ("records", "contacts"))
        db = db_of(request)
        records = queries.subject_trace(db, subject, first, last,
                                        limit=TRACE_LIMIT) if subject else []
        near = report.contacts(db, subject, records, minutes) if subject else []
        if wants_xlsx(request):
            if not subject:
                raise Problem(400, page.t("error.subject"))
            if part == "contacts":
                return xlsx.download(
                    f"contacts-{subject}-{first}-{last}.xlsx",
                    page.t("trace.contacts", subject=subject, minutes=minutes),
                    [page.t(h) for h in ("col.subject", "col.name", "col.enterprise",
                                         "col.station", "col.time", "trace.subject-time",
                                         "trace.apart")],
                    ([c.subject, c.name, c.enterprise, c.station, c.at[:19].replace("T", " "),
                      c.subject_at[:19].replace("T", " "), c.minutes] for c in near))
            return xlsx.download(f"trace-{subject}-{first}-{last}.xlsx",
                                 page.t("trace.title") + f" {subject} {first} – {last}",
                                 record_header(page), (record_values(r, page) for r in records))
        places = len({r["station"] for r in records})
        return render(env, page, "trace.html", subject=subject, first=first, last=last,
                      records=records, places=places, truncated=len(records) >= TRACE_LIMIT,
                      limit=TRACE_LIMIT, detail=lambda r: record_detail(r, page),
                      contacts=near, minutes=minutes, windows=sorted(CONTACT_WINDOWS, key=int),
                      sources=report.CONTACT_SOURCES)

    @router.get("/returning")
    def returning(request: Request, session: OfficeSession) -> Response:
        page = Page(request, session)
        day = parse_day(request, "date", today())
        policy = policy_of(request)
        people, truncated = report.returnees(db_of(request), day, policy)
        followup_days = policy.returning.followup_days
        if wants_xlsx(request):
            return xlsx.download(
                f"returning-{day}.xlsx", page.t("returning.title", day=day),
                [page.t("col.subject"), page.t("col.name"), page.t("col.returned"),
                 page.t("col.origin"), page.t("col.nat"),
                 *[page.t("col.followup", day=f) for f in followup_days],
                 page.t("col.first-enterprise"), page.t("col.last-seen"),
                 page.t("col.station"), page.t("col.enterprise")],
                ([p.subject, p.name, p.returned, page.word(p.origin), p.nat,
                  *[f"{due} {page.t('state.' + state)}" for _, due, state in p.followups],
                  p.first_enterprise, (p.last_at or "")[:19].replace("T", " "),
                  p.last_station, p.last_enterprise] for p in people))
        rules = policy.returning
        return render(env, page, "returning.html", day=day, people=people,
                      truncated=truncated, followup_days=followup_days, rules=rules,
                      origins_text=", ".join(page.word(o) for o in rules.origins),
                      trace_from=(day - dt.timedelta(days=queries.MAX_RANGE_DAYS - 1)
                                  ).isoformat())

    @router.get("/alarms")
    def alarms(request: Request, session: OfficeSession) -> Response:
        page = Page(request, session)
        first, last = parse_range(request, today(), 14, queries.MAX_RANGE_DAYS)
        handled = parse_choice(request, "handled", ("all", "no", "yes"))
        enterprise = request.query_params.get("enterprise", "") or None
        offset = parse_count(request, "after", 0, 10**9)
        since = dt.datetime.combine(first, dt.time(), CST).isoformat()
        until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), CST).isoformat()
        flag = None if handled == "all" else handled == "yes"
        limit = XLSX_ROWS if wants_xlsx(request) else PAGE_ROWS
        rows = store_of(request).alarms(handled=flag, since=since, until=until,
                                        enterprise=enterprise, offset=offset, limit=limit)
        if wants_xlsx(request):
            return xlsx.download(
                f"alarms-{first}-{last}.xlsx", page.t("alarms.title") + f" {first} – {last}",
                [page.t(h) for h in ("col.time", "col.enterprise", "col.station",
                                     "col.subject", "col.name", "col.temperature",
                                     "col.handled")],
                ([(a.get("corrected_time") or a.get("time") or "")[:19].replace("T", " "),
                  a["enterprise"], a["station"], a.get("subject"), a.get("name"),
                  a.get("temperature_c") if isinstance(a.get("temperature_c"), float) else None,
                  ack_text(a.get("ack"), page)] for a in rows))
        enterprises = [e["enterprise"] for e in queries.enterprises(db_of(request))]
        return render(env, page, "alarms.html", first=first, last=last, handled=handled,
                      enterprise=enterprise or "", enterprises=enterprises, alarms=rows,
                      next_after=offset + limit if len(rows) == limit else None,
                      ack_text=lambda a: ack_text(a, page))

    @router.get("/health")
    def health(request: Request, session: OfficeSession) -> Response:
        page = Page(request, session)
        day = parse_day(request, "date", today())
        days = report.window(day)
        db = db_of(request)
        now = dt.datetime.now(CST)
        sums: dict[str, Counter[str]] = {}
        for row in report.station_history(db, days, now.date()):
            total = sums.setdefault(row["station"], Counter())
            for key in ("records", "late", "faults"):
                total[key] += int(row[key] or 0)
            total["days"] += 1
        stations = []
        for s in queries.stations(db):
            beat = report.json_object(s["heartbeat"])
            stations.append({**s, "beat": beat, "sums": sums.get(s["id"], Counter()),
                             "silent": report.silent(s["last_heartbeat"], now,
                                                     settings.silent_after)})
        slots = history_of.by_station(queries.heartbeat_slots(
            db, day, day, columns=history_of.DAY_COLUMNS))
        for s in stations:
            s["status"] = status_key(s)
            s["day"] = history_of.day_health(slots.get(s["id"], []), day, now,
                                             settings.silent_after)
        hours = [s["day"] for s in stations if not s.get("disabled")]
        district = [
            chart(page.t("health.district-title", day=day), HOUR_LABELS, [
                Series(page.t("chart.backlog"), [sum(h.backlog[n] for h in hours)
                                                 for n in range(history_of.HOURS)])],
                label_every=3),
            chart(page.t("health.stations-title", day=day), HOUR_LABELS, [
                Series(page.t("health.stations-heard"),
                       [sum(1 for h in hours if h.heard_hours[n])
                        for n in range(history_of.HOURS)]),
                Series(page.t("health.stations-faulty"),
                       [sum(1 for h in hours if h.faults[n]) for n in range(history_of.HOURS)],
                       kind="line")], label_every=3)]
        if wants_xlsx(request):
            return xlsx.download(
                f"station-health-{days[0]}-{day}.xlsx",
                page.t("health.title", first=days[0], last=day),
                [page.t(h) for h in ("col.station", "col.enterprise", "col.status",
                                     "col.last-heartbeat", "col.backlog", "col.faults",
                                     "col.version", "col.bundle", "col.records", "col.late",
                                     "col.faults", "col.beats", "col.backlog-max",
                                     "col.silent-periods", "col.longest-silence",
                                     "col.fault-hours")],
                ([s["id"], s["enterprise"], page.t(s["status"]), s["last_heartbeat"],
                  s["beat"].get("backlog"), ", ".join(map(str, s["beat"].get("faults") or [])),
                  s["beat"].get("version"), s["beat"].get("bundle_version"),
                  s["sums"]["records"], s["sums"]["late"], s["sums"]["faults"],
                  s["day"].beats, s["day"].backlog_max, len(s["day"].gaps),
                  s["day"].longest_gap, s["day"].fault_hours]
                 for s in stations))
        return render(env, page, "health.html", day=day, days=days, stations=stations,
                      charts=district)

    @router.get("/audit")
    def audit(request: Request, session: OfficeSession) -> Response:
        page = Page(request, session)
        offset = parse_count(request, "after", 0, 10**9)
        limit = XLSX_ROWS if wants_xlsx(request) else PAGE_ROWS
        rows = queries.audit(db_of(request), offset=offset, limit=limit)
        if wants_xlsx(request):
            return xlsx.download("town-audit.xlsx", page.t("nav.audit"),
                                 [page.t(h) for h in ("col.id", "col.at", "col.who",
                                                      "col.action", "col.detail")],
                                 ([r["id"], r["at"], r["who"], r["action"], r["detail"]]
                                  for r in rows))
        return render(env, page, "audit.html", rows=rows,
                      next_after=offset + limit if len(rows) == limit else None)

    @router.get("/lang/{locale}")
    def language(locale: str, request: Request) -> Response:
        """Switch the console's language (a cookie); back to the page it came from."""
        target = request.query_params.get("next", "/office")
        if not target.startswith("/office") or "//" in target or "\\" in target:
            target = "/office"
        response = RedirectResponse(target, status_code=303)
        if locale in LOCALES:
            response.set_cookie(LANG_COOKIE, locale, samesite="strict", max_age=365 * 86400)
        return response

    return router


HOUR_LABELS = [f"{hour:02d}" for hour in range(history_of.HOURS)]


def day_charts(page: Page, day: dt.date, health: history_of.DayHealth) -> list[Chart]:
    """A station's day from its heartbeats: the largest backlog of each hour, and how many
    devices it reported faulty each hour (each on its own scale)."""
    return [chart(page.t("station.history-title", day=day), HOUR_LABELS, [
                Series(page.t("chart.backlog"), health.backlog)], label_every=3),
            chart(page.t("station.faults-title", day=day), HOUR_LABELS, [
                Series(page.t("chart.fault-devices"), [len(f) for f in health.faults])],
                label_every=3)]


def status_key(station: dict[str, Any]) -> str:
    if station.get("disabled"):
        return "status.disabled"
    if not station.get("last_heartbeat"):
        return "status.never"
    return "status.silent" if station.get("silent") else "status.online"


def record_header(page: Page) -> list[str]:
    return [page.t(h) for h in ("col.time", "col.enterprise", "col.station", "col.kind",
                                "col.subject", "col.name", "col.color", "col.temperature",
                                "col.decision", "col.detail")]


def record_detail(record: dict[str, Any], page: Page) -> str:
    """A record's reasons in words, or its device (faults), or nothing."""
    reasons = report.reasons_of(record.get("reasons"))
    if reasons:
        return ", ".join(page.reason(r) for r in reasons)
    if record.get("device"):
        return str(record["device"])
    return ""


def record_values(record: dict[str, Any], page: Page) -> list[Any]:
    when = record.get("corrected_time") or record.get("time") or ""
    temperature = record.get("temperature_c")
    return [when[:19].replace("T", " "), record.get("enterprise"), record.get("station"),
            page.kind(record.get("kind")), record.get("subject"), record.get("name"),
            page.word(record.get("color")),
            float(temperature) if isinstance(temperature, int | float) else None,
            page.word(record.get("decision")), record_detail(record, page)]


def ack_text(ack: Any, page: Page) -> str:
    if not isinstance(ack, dict):
        return page.t("alarms.unhandled")
    return f"{ack.get('action', '')} {str(ack.get('time', ''))[:19].replace('T', ' ')}".strip()
