"""Clocks: the machine's, and a virtual one for tests and `simulate` (no real sleeping).

Besides the time, a clock says what each ledger record needs to be re-timed later
(sync.md): whether the wall clock was NTP-synchronized, the boot id, and the time since boot.
A Raspberry Pi has no battery clock, so after a power cut its wall clock may be far off
until NTP answers.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import uuid
from pathlib import Path
from typing import Protocol

CST = dt.timezone(dt.timedelta(hours=8), "CST")
TIME_ERROR = 5  # adjtimex(2): the clock is not synchronized


def cst_date(instant: dt.datetime | float) -> dt.date:
    """The calendar date in China Standard Time (DESIGN.md: dates are CST) of an instant:
    an aware datetime or Unix seconds. The one place this is computed."""
    if isinstance(instant, dt.datetime):
        return instant.astimezone(CST).date()
    return dt.datetime.fromtimestamp(instant, CST).date()


def verification_time(clock_now: dt.datetime, synced: bool, floor: dt.datetime | None
                      ) -> dt.datetime:
    """The `now` a code's expiry is checked at (health-code.md, DESIGN.md "Clock").

    A synchronized clock is taken as it is. An unsynchronized one (a Pi after a power cut,
    before NTP answers) only gives a lower bound of the true time, and so does the clock
    floor — the time of the newest ledger record written with a synchronized clock: the later
    of the two. The bundle's own times play no part (a town's clock is not the station's).
    """
    if synced or floor is None:
        return clock_now
    return max(clock_now, floor)


class Clock(Protocol):
    boot_id: str

    def now(self) -> dt.datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def boottime_ns(self) -> int: ...

    def synced(self) -> bool: ...


class VirtualClock:
    """A clock that moves only when something sleeps on it or it is advanced.

    `monotonic()` is seconds since the start; `now()` the wall time (aware datetime).
    """

    def __init__(self, start: dt.datetime | None = None, *, synced: bool = True) -> None:
        self.start = start or dt.datetime(2021, 2, 1, 7, 0, tzinfo=CST)
        self._elapsed = 0.0
        self._synced = synced
        self._offset = 0.0  # wall clock minus true time (after a power cut)
        self._booted_at = 0.0
        self.boot_id = f"virtual-{uuid.uuid4()}"

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._elapsed += seconds

    def monotonic(self) -> float:
        return self._elapsed

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self._elapsed + self._offset)

    def true_now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self._elapsed)

    def advance_to(self, instant: dt.datetime) -> None:
        """Jump forward to the true time `instant` (never backwards)."""
        self._elapsed = max(self._elapsed, (instant - self.start).total_seconds())

    def power_cut(self, offset_s: float) -> None:
        """A reboot without a battery clock: a new boot id, boot time from zero, and a wall
        clock `offset_s` away from the true time and unsynchronized until `ntp()`."""
        self.boot_id = f"virtual-{uuid.uuid4()}"
        self._booted_at = self._elapsed
        self._offset = offset_s
        self._synced = False

    def ntp(self) -> None:
        """NTP answered: the wall clock shows the true time again and is synchronized."""
        self._offset = 0.0
        self._synced = True

    def boottime_ns(self) -> int:
        return int((self._elapsed - self._booted_at) * 1e9)

    def synced(self) -> bool:
        return self._synced


class SystemClock:
    """The machine's clocks: wall time, CLOCK_MONOTONIC, CLOCK_BOOTTIME, kernel boot id."""

    def __init__(self) -> None:
        try:
            self.boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            self.boot_id = f"unknown-{uuid.uuid4()}"
        # ctypes only here: the officer commands import this module for CST alone, and
        # ctypes.util pulls in subprocess (README, "Start-up and memory").
        import ctypes
        import ctypes.util

        libc_name = ctypes.util.find_library("c")
        self._libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None
        # struct timex starts with `unsigned int modes`; 0 (a zeroed buffer) means "only
        # read". The kernel writes at most sizeof(struct timex) (208 bytes on 64-bit), so
        # reserve generously.
        self._new_timex = functools.partial(ctypes.create_string_buffer, 256)

    sleep = staticmethod(time.sleep)
    monotonic = staticmethod(time.monotonic)

    @staticmethod
    def now() -> dt.datetime:
        return dt.datetime.now(CST)

    @staticmethod
    def boottime_ns() -> int:
        return time.clock_gettime_ns(time.CLOCK_BOOTTIME)

    def synced(self) -> bool:
        """Whether the kernel considers the clock NTP-synchronized (adjtimex ≠ TIME_ERROR)."""
        if self._libc is None:
            return False
        state = self._libc.adjtimex(self._new_timex())
        return bool(state not in (-1, TIME_ERROR))
