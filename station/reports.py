"""The safety officer's view of the ledger: record log, the daily register, statistics.

Read-only queries on the ledger's indexes (day, subject, return date); times are the
station's CST wall times as recorded.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from station.config import PolicySettings
from station.ledger import Ledger, Record


def log_records(ledger: Ledger, *, day: dt.date | None = None, since: str | None = None,
                until: str | None = None, denied: bool = False, fever: bool = False,
                subject: str | None = None, kind: str | None = None) -> Iterator[Record]:
    """Records matching every filter given, oldest first."""
    where: list[str] = ["1"]
    params: list[Any] = []
    for condition, value in (("day = ?", day.isoformat() if day else None),
                             ("time >= ?", since), ("time < ?", until),
                             ("subject = ?", subject), ("kind = ?", kind)):
        if value is not None:
            where.append(condition)
            params.append(value)
    if denied:
        where.append("kind = 'entry' AND decision = 'deny'")
    if fever:
        where.append("(kind = 'alarm' OR EXISTS (SELECT 1 FROM json_each(reasons) "
                     "WHERE value = 'fever'))")
    return ledger.records(" AND ".join(where), params)


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


def daily_report(ledger: Ledger, day: dt.date, policy: PolicySettings) -> DailyReport:
    report = DailyReport(day)
    key = day.isoformat()
    for row in ledger.query(
        """SELECT subject, name, org, time, temperature_c, color, decision, reasons, n
           FROM (SELECT subject, name, org, time, temperature_c, color, decision, reasons,
                        row_number() OVER (PARTITION BY subject ORDER BY seq) AS rn,
                        count(*) OVER (PARTITION BY subject) AS n
                 FROM records WHERE day = ? AND kind = 'entry' AND subject IS NOT NULL)
           WHERE rn = 1 ORDER BY time""", [key]):
        report.people.append(RegisterRow(
            row["subject"], row["name"], row["org"], row["time"], row["temperature_c"],
            row["color"], row["decision"], tuple(json.loads(row["reasons"])), row["n"]))
    report.unidentified = list(ledger.records(
        "day = ? AND kind = 'entry' AND subject IS NULL", [key]))
    for row in ledger.query("""SELECT kind, decision, count(*) AS n FROM records
                               WHERE day = ? GROUP BY kind, decision""", [key]):
        if row["kind"] == "entry" and row["decision"] == "admit":
            report.admitted = row["n"]
        elif row["kind"] == "entry":
            report.denied += row["n"]
        elif row["kind"] == "exit":
            report.exits = row["n"]
    report.alarms = list(ledger.records("day = ? AND kind = 'alarm'", [key], order="seq DESC"))
    report.due_tests = due_tests(ledger, day, policy)
    return report


def due_tests(ledger: Ledger, day: dt.date, policy: PolicySettings) -> list[DueTest]:
    """Returning workers whose day-7 or day-14 test falls due on `day` or the day after."""
    rules = policy.returning
    earliest = add_days(day, -rules.rules_apply_days) or dt.date.min
    window = {d for d in (day, add_days(day, 1)) if d is not None}
    found: list[DueTest] = []
    for row in ledger.query(
        """SELECT subject, name, returned, origin, max(nat) AS nat FROM records
           WHERE returned IS NOT NULL AND returned >= ? AND returned BETWEEN ? AND ?
             AND subject IS NOT NULL
           GROUP BY subject, returned ORDER BY returned, subject""",
            [earliest.isoformat(), rules.window[0].isoformat(), rules.window[1].isoformat()]):
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
    params = [first.isoformat(), today.isoformat()]
    per_day = list(ledger.query(
        """SELECT day, count(*) AS entries,
                  sum(decision = 'admit') AS admitted, sum(decision = 'deny') AS denied,
                  sum(EXISTS (SELECT 1 FROM json_each(reasons) WHERE value = 'fever'))
                    AS fevers
           FROM records WHERE kind = 'entry' AND day BETWEEN ? AND ?
           GROUP BY day ORDER BY day""", params))
    per_hour = list(ledger.query(
        """SELECT substr(time, 12, 2) AS hour, count(*) AS entries,
                  sum(decision = 'deny') AS denied
           FROM records WHERE kind = 'entry' AND day BETWEEN ? AND ?
           GROUP BY hour ORDER BY hour""", params))
    denials = list(ledger.query(
        """SELECT j.value AS reason, count(*) AS n
           FROM records, json_each(records.reasons) AS j
           WHERE kind = 'entry' AND decision = 'deny' AND day BETWEEN ? AND ?
           GROUP BY j.value ORDER BY n DESC, reason""", params))
    return Stats(first, today, per_day, per_hour, denials)
