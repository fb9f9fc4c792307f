"""Statistics, as SVG charts drawn on the server: arrivals per 10 minutes (the day against
the 7 days before), temperature histogram, denials by reason per day over 14 days, people
per hour."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from station.config import PolicySettings
from station.console.charts import Chart, Series, chart
from station.console.deps import ConsoleDep, OfficerUser, PageDep, ReadLedger
from station.console.params import Query, today
from station.console.web import Page, render
from station.ledger import Ledger

router = APIRouter(tags=["stats"])
HISTOGRAM_LOW, HISTOGRAM_HIGH = 355, 390  # tenths of °C; outside collects in the end bins


def arrivals_chart(page: Page, ledger: Ledger, day: dt.date) -> Chart:
    week_first = day - dt.timedelta(days=7)
    today_slots: dict[str, int] = defaultdict(int)
    week_slots: dict[str, int] = defaultdict(int)
    for row in ledger.arrivals_by_slot(week_first.isoformat(), day.isoformat()):
        if row["day"] == day.isoformat():
            today_slots[row["slot"]] += row["n"]
        else:
            week_slots[row["slot"]] += row["n"]
    slots = [f"{h:02d}:{m}" for h in range(24) for m in range(6)]
    used = [i for i, s in enumerate(slots) if today_slots.get(s) or week_slots.get(s)]
    first, last = (max(0, used[0] - 3), min(len(slots) - 1, used[-1] + 3)) if used else (42, 60)
    first -= first % 6  # start and end on whole hours
    last = min(len(slots) - 1, last + (5 - last % 6))
    window = slots[first:last + 1]
    return chart(page.t("stats.arrivals", day=day), [s[:2] + ":" + s[3] + "0" for s in window],
                 [Series(page.t("stats.series.day"), [today_slots.get(s, 0) for s in window]),
                  Series(page.t("stats.series.week_average"),
                         [week_slots.get(s, 0) / 7 for s in window], kind="line")],
                 label_every=6, empty_text=page.t("stats.empty"))


def temperature_chart(page: Page, ledger: Ledger, day: dt.date,
                      policy: PolicySettings) -> Chart:
    first = day - dt.timedelta(days=6)
    bins: dict[int, int] = defaultdict(int)
    for row in ledger.temperature_counts(first.isoformat(), day.isoformat()):
        bins[min(max(row["tenths"], HISTOGRAM_LOW), HISTOGRAM_HIGH)] += row["n"]
    tenths = list(range(HISTOGRAM_LOW, HISTOGRAM_HIGH + 1))
    labels = [f"{t / 10:.1f}" for t in tenths]
    labels[0], labels[-1] = "≤" + labels[0], "≥" + labels[-1]
    threshold = policy.fever_threshold_c * 10 - HISTOGRAM_LOW
    return chart(page.t("stats.temperatures", first=first, last=day), labels,
                 [Series(page.t("stats.series.entries"), [bins.get(t, 0) for t in tenths])],
                 label_every=5, empty_text=page.t("stats.empty"),
                 marker=(threshold, page.t("stats.threshold",
                                           value=f"{policy.fever_threshold_c:.1f}")))


def denials_chart(page: Page, ledger: Ledger, day: dt.date) -> Chart:
    first = day - dt.timedelta(days=13)
    days = [(first + dt.timedelta(days=n)).isoformat() for n in range(14)]
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in ledger.denials_by_day(first.isoformat(), day.isoformat()):
        table[row["reason"]][row["day"]] += row["n"]
    reasons = sorted(table, key=lambda r: -sum(table[r].values()))
    shown, rest = reasons[:6], reasons[6:]  # six colours at most; the rest together
    series = [Series(page.reason(r), [table[r].get(d, 0) for d in days]) for r in shown]
    if rest:
        series.append(Series(page.t("stats.series.other"),
                             [sum(table[r].get(d, 0) for r in rest) for d in days]))
    if not series:
        series = [Series(page.t("stats.series.denied"), [0] * len(days))]
    return chart(page.t("stats.denials", first=first, last=day), [d[5:] for d in days],
                 series, stacked=True, label_every=2, empty_text=page.t("stats.empty"))


def people_chart(page: Page, ledger: Ledger, day: dt.date) -> Chart:
    by_hour = {int(r["hour"]): r["n"] for r in ledger.people_by_hour(day.isoformat())}
    return chart(page.t("stats.people", day=day), [f"{h:02d}" for h in range(24)],
                 [Series(page.t("stats.series.people"), [by_hour.get(h, 0) for h in range(24)])],
                 label_every=2, empty_text=page.t("stats.empty"))


@router.get("/stats", response_class=HTMLResponse)
def stats_page(page: PageDep, user: OfficerUser, ledger: ReadLedger,
               console: ConsoleDep) -> HTMLResponse:
    """The four charts for a day (default today)."""
    query = Query(page, {"date"})
    day = query.day("date", today()) or today()
    query.done()
    charts = [arrivals_chart(page, ledger, day),
              temperature_chart(page, ledger, day, console.policy()),
              denials_chart(page, ledger, day), people_chart(page, ledger, day)]
    return render(console.templates, page, "stats.html", day=day, charts=charts,
                  previous=day - dt.timedelta(days=1), following=day + dt.timedelta(days=1))
