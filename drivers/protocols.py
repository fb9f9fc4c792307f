"""The roles the gate loop needs from hardware, as small structural types.

Real drivers and fakes both satisfy these, so the station takes whichever it is given.
"""

from __future__ import annotations

from collections.abc import Callable
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


class Outputs(Protocol):
    """The gate's actuators (relay, green/red LEDs, buzzer) and inputs (exit button, door
    contact). Every pattern that is not an admission forces the relay off."""

    def admit(self) -> None:
        """Green, short beep, relay open for the configured time."""
        ...

    def open_for_exit(self) -> None: ...

    def deny(self) -> None:
        """Red, long beep, relay off."""
        ...

    def prompt(self) -> None:
        """Code read: please step up to the thermometer."""
        ...

    def show_fault(self) -> None:
        """Red blinking until `clear_fault`; relay off."""
        ...

    def clear_fault(self) -> None: ...

    def relay_off(self) -> None: ...

    @property
    def gate_open(self) -> bool:
        """Whether the relay is holding the gate open right now."""
        ...

    @property
    def door_open(self) -> bool | None:
        """True when the door contact reports open, None when there is no contact."""
        ...

    def on_exit_pressed(self, callback: Callable[[], None]) -> None: ...

    def close(self) -> None:
        """Relay off, then release every pin."""
        ...


class SerialPort(Protocol):
    """The part of a pyserial port the serial scanner uses (`serial.Serial`, `loop://`)."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def close(self) -> None: ...
