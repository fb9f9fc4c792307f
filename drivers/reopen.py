"""Reopening a device that vanished: capped exponential backoff, sleeping, never spinning.

Shared by the camera and serial scanners. `wait()` sleeps until the next attempt is due;
`failed(why)` records the failure, schedules the next attempt (0.5 s, 1 s, 2 s … 10 s) and
raises ScannerError; `succeeded()` resets it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from drivers.errors import ScannerError

REOPEN_BACKOFF_S = (0.5, 10.0)


class Reopener:
    def __init__(self, sleep: Callable[[float], None], monotonic: Callable[[], float]) -> None:
        self._sleep = sleep
        self._monotonic = monotonic
        self._failures = 0
        self._next_attempt = 0.0
        self.fault: str | None = None

    def wait(self) -> None:
        delay = self._next_attempt - self._monotonic()
        if delay > 0:
            self._sleep(delay)

    def failed(self, why: str) -> NoReturn:
        self._failures += 1
        low, high = REOPEN_BACKOFF_S
        self._next_attempt = self._monotonic() + min(high, low * 2 ** (self._failures - 1))
        self.fault = why
        raise ScannerError(why)

    def succeeded(self) -> None:
        self._failures, self.fault = 0, None
