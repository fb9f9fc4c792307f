"""The safety officer's view of the ledger: record log, the daily register, statistics.

Read-only queries on the ledger's indexes (day, subject, return date); times are the
station's CST wall times as recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from station.config import PolicySettings
from station.ledger import Ledger, Record


def log_records(ledger: Ledger, *, day: dt.date | None = None, since: str | None = None,
                until: str | None = None, denied: bool = False, fever: bool = False,
                subject: str | None = None, kind: str | None = None) -> Iterator[Record]:
    """Records matching every filter given, oldest first."""
    return ledger.find(day=day, since=since, until=until, denied=denied, fever=fever,
                       subject=subject, kind=kind)


@dataclass(frozen=True)
class RegisterRow:
    """One person in the day's register: their first entry that day."""

    subject: str | None
    name: str | None
    org: str | None
    first_time: str
    temperature_c: float | None
    color: str | None
    decision: str | None
    reasons: tuple[str, ...]
    entries: int


@dataclass(frozen=True)
class DueTest:
    subject: str
    name: str | None
    returned: str
    origin: str | None
    followup_day: int
    due: str
    latest_nat: str | None

    @property
    def done(self) -> bool:
        return self.latest_nat is not None and self.latest_nat >= self.due


@dataclass
class DailyReport:
    day: dt.date
    people: list[RegisterRow] = field(default_factory=list)
    unidentified: list[Record] = field(default_factory=list)
    admitted: int = 0
    denied: int = 0
    exits: int = 0
    alarms: list[Record] = field(default_factory=list)
    due_tests: list[DueTest] = field(default_factory=list)


def daily_report(ledger: Ledger, day: dt.date, policy: PolicySettings, *,
                 due: bool = True) -> DailyReport:
    """`day`'s register; `due=False` leaves `due_tests` empty (the console's register page
    and XLSX show none, and finding them is a third of the report's time)."""
    report = DailyReport(day)
    for row in ledger.first_entries(day):
        report.people.append(RegisterRow(
            row["subject"], row["name"], row["org"], row["time"], row["temperature_c"],
            row["color"], row["decision"], row["reasons"], row["n"]))
    report.unidentified = ledger.unidentified_entries(day)
    for (kind, decision), n in ledger.day_counts(day).items():
        if kind == "entry" and decision == "admit":
            report.admitted = n
        elif kind == "entry":
            report.denied += n
        elif kind == "exit":
            report.exits = n
    report.alarms = ledger.alarms(day)
    if due:
        report.due_tests = due_tests(ledger, day, policy)
    return report


def due_tests(ledger: Ledger, day: dt.date, policy: PolicySettings) -> list[DueTest]:
    """Returning workers whose day-7 or day-14 test falls due on `day` or the day after."""
    rules = policy.returning
    earliest = max(add_days(day, -rules.rules_apply_days) or dt.date.min, rules.window[0])
    window = {d for d in (day, add_days(day, 1)) if d is not None}
    # Only a return on (due day − follow-up day) can fall due now: ask the ledger for those
    # few return dates instead of every return of the last `rules_apply_days`.
    returns = {back for due in window for followup in rules.followup_days
               if (back := add_days(due, -followup)) is not None}
    found: list[DueTest] = []
    for row in ledger.returning_workers(
            [r for r in returns if earliest <= r <= rules.window[1]]):
        if row["origin"] not in rules.origins:
            continue
        returned = dt.date.fromisoformat(row["returned"])
        for followup in rules.followup_days:
            due = add_days(returned, followup)
            if due is not None and due in window:
                found.append(DueTest(row["subject"], row["name"], row["returned"],
                                     row["origin"], followup, due.isoformat(), row["nat"]))
    return found


@dataclass
class Stats:
    first_day: dt.date
    last_day: dt.date
    per_day: list[dict[str, Any]]
    per_hour: list[dict[str, Any]]
    denials: list[dict[str, Any]]


def add_days(day: dt.date, days: int) -> dt.date | None:
    """`day` moved by `days`, or None when that leaves the calendar (years 1–9999)."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return None


def stats(ledger: Ledger, today: dt.date, days: int) -> Stats:
    """`days` days ending on `today` (fewer when the calendar begins sooner)."""
    first = add_days(today, -(days - 1)) or dt.date.min
    return Stats(first, today, ledger.entries_per_day(first, today),
                 ledger.entries_per_hour(first, today), ledger.denial_reasons(first, today))


def recent_stats(ledger: Ledger, today: dt.date, days: int) -> tuple[Stats, bool]:
    """`stats` without a chosen last day: the `days` days ending today; but when they hold no
    entry and the ledger's records all lie before them (a ledger copied from a station, the
    demo's 2021 morning), the `days` days ending on the ledger's newest day instead.
    (the stats, whether the window was moved)."""
    result = stats(ledger, today, days)
    if result.per_day:
        return result, False
    newest = ledger.newest_day()
    try:
        last = dt.date.fromisoformat(newest) if newest else None
    except ValueError:
        last = None
    if last is None or last >= result.first_day:
        return result, False
    return stats(ledger, last, days), True
