"""The roles the gate loop needs from hardware, as small structural types.

Real drivers and fakes both satisfy these, so the station takes whichever it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Measurement:
    """One body-temperature measurement.

    `body_c` is the compensated estimate of body temperature (°C, to 0.1 °C) that policy
    compares with the fever threshold; `object_c` the median raw object (forehead) reading it
    came from; `ambient_c` the sensor's die/ambient temperature; `samples_c` the compensated
    samples.
    """

    body_c: float
    object_c: float
    ambient_c: float
    samples_c: tuple[float, ...]


class Thermometer(Protocol):
    def object_temperature(self) -> float: ...

    def ambient_temperature(self) -> float: ...

    def read_body(self) -> float:
        """One quick compensated body-temperature estimate (°C), for presence detection."""
        ...

    def measure(self, timeout_s: float) -> Measurement | None:
        """A plausible body reading, or None when nobody was measured within `timeout_s`.

        Raises ThermometerError when the sensor itself fails.
        """
        ...


class Scanner(Protocol):
    def scan(self, timeout_s: float) -> str | None:
        """The next newly presented code's text, or None if none within `timeout_s`.

        Raises ScannerError while the device is unavailable (it keeps trying to reopen).
        """
        ...

    def close(self) -> None: ...
