"""Station health history for the office console: what the `heartbeats` table (schema 5,
one row per station per 10-minute slot) says about a station's day — backlog per hour,
silent periods (the gaps between one heartbeat and the next longer than the silent
threshold), faulty devices per hour — and a district's day on the health page.

Pure functions over the rows of `queries.heartbeat_slots`; a stored value of the wrong type
(an older or damaged row) counts as nothing rather than raising.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from station.clock import CST

HOURS = 24
DAY_COLUMNS = ("station", "first_at", "last_at", "beats", "backlog_max", "faults")  # day_health


@dataclass(frozen=True)
class Gap:
    """A silent period: no heartbeat from `start` to `end` (`open` when it has not ended)."""

    start: dt.datetime
    end: dt.datetime
    open: bool = False

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass
class DayHealth:
    """One station's day: per hour the largest backlog and the devices reported faulty,
    its silent periods, and how many heartbeats arrived."""

    beats: int = 0
    backlog: list[int] = field(default_factory=lambda: [0] * HOURS)
    faults: list[list[str]] = field(default_factory=lambda: [[] for _ in range(HOURS)])
    gaps: list[Gap] = field(default_factory=list)
    heard: bool = False
    heard_hours: list[bool] = field(default_factory=lambda: [False] * HOURS)

    @property
    def backlog_max(self) -> int:
        return max(self.backlog)

    @property
    def fault_hours(self) -> int:
        return sum(1 for devices in self.faults if devices)

    @property
    def longest_gap(self) -> int:
        return max((g.minutes for g in self.gaps), default=0)


def _time(text: Any) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return value.astimezone(CST) if value is not None and value.tzinfo else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def fault_names(text: Any) -> list[str]:
    """A slot's stored faults (a JSON list of device names); [] for anything else."""
    if text == "[]":
        return []  # most slots: no JSON to parse
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def day_health(slots: Iterable[dict[str, Any]], day: dt.date, now: dt.datetime,
               silent_after: dt.timedelta) -> DayHealth:
    """One station's `day` from its slots of that day (time order). The day runs from
    midnight to the next one, or to `now` on the current day; a silence at the start counts
    from midnight, one at the end until the day's end (open when it runs until `now`)."""
    start = dt.datetime.combine(day, dt.time(), CST)
    end = min(start + dt.timedelta(days=1), now)
    health = DayHealth()
    last_heard = start
    for slot in slots:
        first, last = _time(slot.get("first_at")), _time(slot.get("last_at"))
        if first is None or last is None or not start <= first < start + dt.timedelta(days=1):
            continue
        health.heard = True
        health.beats += _int(slot.get("beats"))
        hour = first.hour
        health.heard_hours[hour] = True
        health.backlog[hour] = max(health.backlog[hour], _int(slot.get("backlog_max")))
        for device in fault_names(slot.get("faults")):
            if device not in health.faults[hour]:
                health.faults[hour].append(device)
        if first - last_heard > silent_after:
            health.gaps.append(Gap(last_heard, first))
        last_heard = max(last_heard, last)
    if end > start and end - last_heard > silent_after:
        health.gaps.append(Gap(last_heard, end, open=end == now))
    return health


def by_station(slots: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for slot in slots:
        grouped.setdefault(str(slot["station"]), []).append(slot)
    return grouped


def slot_values(slot: dict[str, Any]) -> list[Any]:
    """A slot as a row of the XLSX export: slot, first and last beat, beats, largest and
    last backlog, faulty devices."""
    first, last = _time(slot.get("first_at")), _time(slot.get("last_at"))
    return [str(slot.get("slot", "")).replace("T", " "),
            first.strftime("%H:%M:%S") if first else None,
            last.strftime("%H:%M:%S") if last else None,
            _int(slot.get("beats")), _int(slot.get("backlog_max")),
            _int(slot.get("backlog_last")), ", ".join(fault_names(slot.get("faults")))]
