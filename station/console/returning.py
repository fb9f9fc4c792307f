"""Returning workers' follow-up tests (seed 四(四)): the day-7 and day-14 tests due today or
tomorrow, and those overdue, from the return date and newest NAT date on their codes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from station.config import PolicySettings
from station.ledger import Ledger

State = Literal["overdue", "due-today", "due-tomorrow", "done"]
ORDER: dict[str, int] = {"overdue": 0, "due-today": 1, "due-tomorrow": 2, "done": 3}


@dataclass(frozen=True)
class Followup:
    subject: str
    name: str | None
    returned: str
    origin: str | None
    followup_day: int
    due: str
    latest_nat: str | None
    state: State


def followups(ledger: Ledger, day: dt.date, policy: PolicySettings) -> list[Followup]:
    """Follow-up tests falling due `day` or the day after (done or not), and those overdue
    (due before `day`, no NAT on or after the due date) while the returning rules still apply
    (`rules_apply_days`). Overdue first, then due today, due tomorrow, done."""
    rules = policy.returning
    earliest = day - dt.timedelta(days=rules.rules_apply_days - 1)
    tomorrow = day + dt.timedelta(days=1)
    found: list[Followup] = []
    for row in ledger.returned_workers(earliest.isoformat(), rules.window[0].isoformat(),
                                       rules.window[1].isoformat()):
        if row["origin"] not in rules.origins:
            continue
        returned = dt.date.fromisoformat(row["returned"])
        nat = row["nat"]
        for followup in rules.followup_days:
            due = returned + dt.timedelta(days=followup)
            done = nat is not None and nat >= due.isoformat()
            state: State
            if due == day:
                state = "done" if done else "due-today"
            elif due == tomorrow:
                state = "done" if done else "due-tomorrow"
            elif due < day and not done:
                state = "overdue"
            else:
                continue
            found.append(Followup(row["subject"], row["name"], row["returned"], row["origin"],
                                  followup, due.isoformat(), nat, state))
    found.sort(key=lambda f: (ORDER[f.state], f.due, f.subject))
    return found
