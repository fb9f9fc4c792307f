"""Query parameters read by hand, so that bad input becomes a sentence on the page (in the
reader's language) instead of a traceback or a bare 422: unknown parameters, bad or reversed
dates, ranges over a year, numbers out of range, over-long text.

Usage: `q = Query(page, {"date", "page"})`, then `q.day("date")`, `q.number("page", 1, 200)`
…, then `q.done()` raises BadInput listing every problem found.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from station.clock import CST, cst_date
from station.console.deps import BadInput
from station.console.web import Page

MAX_RANGE_DAYS = 366


def today() -> dt.date:
    return cst_date(dt.datetime.now(CST))


class Query:
    def __init__(self, page: Page, allowed: Collection[str],
                 multi: Collection[str] = ()) -> None:
        self.page = page
        self.params = page.request.query_params
        self.problems: list[str] = []
        for name in self.params:
            if name not in allowed:
                self.problems.append(page.t("bad.unknown_param", name=name[:40]))
        for name in allowed:
            if name not in multi and len(self.params.getlist(name)) > 1:
                self.problems.append(page.t("bad.repeated_param", name=name))

    def raw(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def day(self, name: str, default: dt.date | None = None) -> dt.date | None:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return dt.date.fromisoformat(value) if len(value) == 10 else _bad()
        except ValueError:
            self.problems.append(self.page.t("bad.date", name=name, value=value[:40]))
            return default

    def day_range(self, first_name: str, last_name: str, default_first: dt.date,
                  default_last: dt.date) -> tuple[dt.date, dt.date]:
        first = self.day(first_name, default_first) or default_first
        last = self.day(last_name, default_last) or default_last
        if first > last:
            self.problems.append(self.page.t("bad.reversed", first=first, last=last))
        elif (last - first).days >= MAX_RANGE_DAYS:
            self.problems.append(self.page.t("bad.too_long", days=MAX_RANGE_DAYS))
        return first, last

    def number(self, name: str, low: int, high: int, default: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        if not value.isdigit() or len(value) > 9 or not low <= int(value) <= high:
            self.problems.append(self.page.t("bad.number", name=name, value=value[:20],
                                             low=low, high=high))
            return default
        return int(value)

    def decimal(self, name: str, low: float, high: float, default: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not low <= number <= high:  # NaN fails too
            self.problems.append(self.page.t("bad.decimal", name=name, value=value[:20],
                                             low=low, high=high))
            return default
        return number

    def choice(self, name: str, choices: Collection[str]) -> str | None:
        value = self.raw(name)
        if value is not None and value not in choices:
            self.problems.append(self.page.t("bad.choice", name=name, value=value[:40]))
            return None
        return value

    def choices(self, name: str, choices: Collection[str]) -> list[str]:
        values = [v.strip() for v in self.params.getlist(name) if v.strip()]
        for value in values:
            if value not in choices:
                self.problems.append(self.page.t("bad.choice", name=name, value=value[:40]))
        return [v for v in values if v in choices]

    def text(self, name: str, max_length: int = 64) -> str | None:
        value = self.raw(name)
        if value is not None and len(value) > max_length:
            self.problems.append(self.page.t("bad.too_long_text", name=name, n=max_length))
            return None
        return value

    def done(self) -> None:
        if self.problems:
            raise BadInput(self.problems)


def _bad() -> dt.date:
    raise ValueError("not YYYY-MM-DD")
