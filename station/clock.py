"""Clocks: the real one, and a virtual one for tests and `simulate` (no real sleeping)."""

from __future__ import annotations

import datetime as dt
import time


class VirtualClock:
    """A clock that moves only when something sleeps on it.

    `monotonic()` is seconds since the start; `now()` the wall time (aware datetime).
    """

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.start = start or dt.datetime(2021, 2, 1, 7, 0, tzinfo=dt.UTC)
        self._elapsed = 0.0

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._elapsed += seconds

    def monotonic(self) -> float:
        return self._elapsed

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self._elapsed)

    def advance_to(self, instant: dt.datetime) -> None:
        """Jump forward to `instant` (never backwards)."""
        self._elapsed = max(self._elapsed, (instant - self.start).total_seconds())


class SystemClock:
    """The machine's clocks."""

    sleep = staticmethod(time.sleep)
    monotonic = staticmethod(time.monotonic)

    @staticmethod
    def now() -> dt.datetime:
        return dt.datetime.now(dt.UTC).astimezone()
