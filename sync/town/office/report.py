"""What the town office's pages show, computed from the reads in `queries`: compliance per
enterprise and day, the 14-day trend, station health, and the returning workers' follow-ups.

Pure assembly in Python (no SQL here): JSON columns are parsed here, dates computed here, so
the SQL stays portable. A value that cannot be parsed (an odd `reasons` text, a heartbeat that
is not an object) is shown as what it is, never a crash.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from station.clock import CST, cst_date
from station.config import PolicySettings
from sync.town.office import queries
from sync.town.office.queries import Rows

WINDOW_DAYS = 14


def window(last: dt.date, days: int = WINDOW_DAYS) -> list[dt.date]:
    """The `days` calendar days ending with `last`, oldest first."""
    return [last - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]


def reasons_of(text: Any) -> list[str]:
    """The reason codes of a stored `reasons` JSON text; [] for anything else."""
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def json_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def silent(last_heartbeat: str | None, now: dt.datetime, after: dt.timedelta) -> bool:
    """True when a station has not been heard from for longer than `after` (or never)."""
    if not last_heartbeat:
        return True
    try:
        return now - dt.datetime.fromisoformat(last_heartbeat) > after
    except (ValueError, TypeError):
        return True


@dataclass
class Compliance:
    """One enterprise on one day."""

    enterprise: str
    day: str
    stations: int = 0
    disabled: int = 0
    reporting: int = 0
    online: int | None = None  # now, from heartbeats (only for today)
    silent: int | None = None
    people: int = 0
    entries: int = 0
    denied: int = 0
    fevers: int = 0
    unhandled: int = 0
    faults: int = 0
    vehicles: int = 0
    visitors: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def nobody(self) -> bool:
        """Registered nobody: the enterprise the town office must call."""
        return self.people == 0 and self.entries == 0


PAST_DAYS_TTL = 600.0  # seconds a closed day's figures are reused (late records trickle in)
_Cached = dict[tuple[str, str, str | None], tuple[float, list[dict[str, Any]]]]
_cache: weakref.WeakKeyDictionary[Any, _Cached] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def per_day(db: Rows, what: str, day: dt.date, today: dt.date, scope: str | None,
            read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """`read()` — one day's rows of one kind (`what`, for one `scope`) — with a day before
    `today` reused for `PAST_DAYS_TTL` seconds (per process, per database): a 14-day view
    then costs one day's reads, not fourteen. Today is always read afresh."""
    key = (what, day.isoformat(), scope)
    if day < today:
        with _cache_lock:
            hit = _cache.get(db, {}).get(key)
        if hit is not None and time.monotonic() - hit[0] < PAST_DAYS_TTL:
            return hit[1]
    rows = read()
    if day < today:
        with _cache_lock:
            mine = _cache.setdefault(db, {})
            if len(mine) > 4096:
                mine.clear()
            mine[key] = (time.monotonic(), rows)
    return rows


def _day_rows(db: Rows, day: dt.date, enterprise: str | None, today: dt.date
              ) -> list[dict[str, Any]]:
    """One day's figures per enterprise: counts, unhandled alarms, denial reasons."""
    def read() -> list[dict[str, Any]]:
        rows = [{**row, "what": "counts"}
                for row in queries.enterprise_days(db, day, day, enterprise)]
        rows += [{**row, "what": "unhandled"}
                 for row in queries.unhandled_alarms(db, day, day, enterprise)]
        rows += [{**row, "what": "reasons"}
                 for row in queries.denial_reasons(db, day, day, enterprise)]
        return rows
    return per_day(db, "compliance", day, today, enterprise, read)


def station_history(db: Rows, days: list[dt.date], today: dt.date, *,
                    enterprise: str | None = None, station_id: str | None = None
                    ) -> list[dict[str, Any]]:
    """`queries.station_days` over `days`, one day at a time (closed days reused)."""
    rows: list[dict[str, Any]] = []
    for day in days:
        rows += per_day(db, "stations", day, today, f"{enterprise}|{station_id}",
                        lambda day=day: queries.station_days(  # type: ignore[misc]
                            db, day, day, enterprise=enterprise, station_id=station_id))
    return rows


def compliance(db: Rows, first: dt.date, last: dt.date, *, now: dt.datetime,
               silent_after: dt.timedelta, enterprise: str | None = None
               ) -> dict[str, dict[str, Compliance]]:
    """day → enterprise → Compliance, for every enterprise with a station (zeros where it
    sent nothing) and every day from `first` to `last`."""
    days = window(last, (last - first).days + 1)
    all_stations = queries.stations(db, enterprise)
    table: dict[str, dict[str, Compliance]] = {}
    for day in days:
        table[day.isoformat()] = {}
        for s in all_stations:
            c = table[day.isoformat()].setdefault(s["enterprise"],
                                                  Compliance(s["enterprise"], day.isoformat()))
            c.stations += 1
            c.disabled += s["disabled"] is not None
    today = now.date().isoformat()
    if today in table:
        for s in all_stations:
            c = table[today][s["enterprise"]]
            quiet = silent(s["last_heartbeat"], now, silent_after)
            c.silent = (c.silent or 0) + quiet
            c.online = (c.online or 0) + (not quiet)
    for day in days:
        for row in _day_rows(db, day, enterprise, now.date()):
            found = table[day.isoformat()].get(row["enterprise"])
            if found is None:
                continue
            if row["what"] == "counts":
                for name in ("reporting", "people", "entries", "denied", "fevers", "faults",
                             "vehicles", "visitors"):
                    setattr(found, name, int(row[name] or 0))
            elif row["what"] == "unhandled":
                found.unhandled = int(row["n"])
            else:
                for reason in reasons_of(row["reasons"]) or ["?"]:
                    found.reasons[reason] += int(row["n"])
    return table


def totals(day: dict[str, Compliance]) -> Compliance:
    """The whole town on one day."""
    total = Compliance("", "")
    for c in day.values():
        total.day = c.day
        for name in ("stations", "reporting", "people", "entries", "denied", "fevers",
                     "unhandled", "faults", "vehicles", "visitors"):
            setattr(total, name, getattr(total, name) + getattr(c, name))
        total.reasons.update(c.reasons)
    return total


# -- returning workers ---------------------------------------------------------------------

State = Literal["overdue", "due-today", "due-tomorrow", "done", "upcoming"]
STATE_ORDER: dict[str, int] = {"overdue": 0, "due-today": 1, "due-tomorrow": 2,
                               "upcoming": 3, "done": 4}


@dataclass
class Returnee:
    """A worker whose code says they returned on `returned` from `origin`."""

    subject: str
    name: str | None
    returned: str
    origin: str | None
    nat: str | None  # the newest NAT date any of their codes carried
    first_enterprise: str
    followups: list[tuple[int, str, State]]  # (day 7 or 14, due date, state)
    last_at: str | None = None
    last_station: str | None = None
    last_enterprise: str | None = None

    @property
    def worst(self) -> State:
        return min((state for _, _, state in self.followups), key=STATE_ORDER.__getitem__,
                   default="done")


def followup_state(due: dt.date, nat: str | None, day: dt.date) -> State:
    """The station console's reading (station/console/returning.py): done when a NAT on or
    after the due date is known; otherwise overdue, due today or tomorrow, or upcoming."""
    if nat is not None and nat >= due.isoformat():
        return "done"
    if due < day:
        return "overdue"
    if due == day:
        return "due-today"
    if due == day + dt.timedelta(days=1):
        return "due-tomorrow"
    return "upcoming"


def returnees(db: Rows, day: dt.date, policy: PolicySettings, *, limit: int = 50000
              ) -> tuple[list[Returnee], bool]:
    """Workers still under the returning rules on `day` (returned within `rules_apply_days`,
    inside the policy's window, from one of its origins), across every enterprise, with their
    day-7/day-14 follow-ups and where they were last seen at a gate with that code (the
    latest entry carrying the return date); worst state first. The second value says the
    scan hit `limit` rows (the list may be incomplete)."""
    rules = policy.returning
    first = day - dt.timedelta(days=max(rules.rules_apply_days - 1, 0))
    rows: list[dict[str, Any]] = []
    today = cst_date(dt.datetime.now(CST))
    for offset in range((day - first).days + 1):
        on = first + dt.timedelta(days=offset)
        rows += per_day(db, "returning", on, today, None,
                        lambda on=on: queries.returning_entries(  # type: ignore[misc]
                            db, on, on, limit=limit))
        if len(rows) >= limit:
            break
    found: dict[tuple[str, str], Returnee] = {}
    for row in rows:
        raw = json_object(row["raw"])
        returned, origin, nat = raw.get("returned"), raw.get("origin"), raw.get("nat")
        if not isinstance(returned, str):
            continue
        try:
            back = dt.date.fromisoformat(returned)
        except ValueError:
            continue
        if not (first <= back <= day and rules.window[0] <= back <= rules.window[1]):
            continue
        if origin not in rules.origins:
            continue
        key = (row["subject"], returned)
        person = found.get(key)
        if person is None:
            person = found[key] = Returnee(row["subject"], row["name"], returned, origin,
                                           None, row["enterprise"], [])
        if isinstance(nat, str) and (person.nat is None or nat > person.nat):
            person.nat = nat
        if row["name"] and not person.name:
            person.name = row["name"]
        if (row["at"] or "") > (person.last_at or ""):
            person.last_at, person.last_station = row["at"], row["station"]
            person.last_enterprise = row["enterprise"]
    for person in found.values():
        back = dt.date.fromisoformat(person.returned)
        person.followups = [
            (f, (back + dt.timedelta(days=f)).isoformat(),
             followup_state(back + dt.timedelta(days=f), person.nat, day))
            for f in rules.followup_days]
    people = sorted(found.values(), key=lambda p: (STATE_ORDER[p.worst], p.returned,
                                                   p.subject))
    return people, len(rows) >= limit


# -- contact tracing -------------------------------------------------------------------------

CONTACT_SOURCES = 100  # the trace's first N sightings are looked around


@dataclass
class Contact:
    """Another worker seen at the same gate within the window of one of the subject's
    sightings; the closest sighting is kept."""

    subject: str
    name: str | None
    enterprise: str
    station: str
    at: str
    subject_at: str
    minutes: float


def contacts(db: Rows, subject: str, records: list[dict[str, Any]], minutes: int
             ) -> list[Contact]:
    """Who passed the same gate within ±`minutes` of the subject's entries, exits and alarms
    (the first `CONTACT_SOURCES` of them), one line per person and gate, closest first."""
    found: dict[tuple[str, str], Contact] = {}
    window = dt.timedelta(minutes=minutes)
    sightings = [r for r in records if r["kind"] in ("entry", "exit", "alarm")]
    for record in sightings[:CONTACT_SOURCES]:
        when_text = record["corrected_time"] or record["time"]
        try:
            when = dt.datetime.fromisoformat(when_text)
        except (TypeError, ValueError):
            continue
        lo = (when - window).isoformat(timespec="milliseconds")
        hi = (when + window).isoformat(timespec="milliseconds")
        for row in queries.near(db, record["station"], record["day"], lo, hi, subject):
            try:
                apart = abs((dt.datetime.fromisoformat(row["at"]) - when).total_seconds()) / 60
            except (TypeError, ValueError):
                continue
            key = (row["subject"], row["station"])
            known = found.get(key)
            if known is None or apart < known.minutes:
                found[key] = Contact(row["subject"], row["name"], row["enterprise"],
                                     row["station"], row["at"], when_text, round(apart, 1))
    return sorted(found.values(), key=lambda c: (c.minutes, c.at, c.subject))
