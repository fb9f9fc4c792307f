"""Gate relay, green and red LEDs, buzzer, exit button and door contact, on gpiozero.

Wiring (BCM numbering; every pin is configurable in config.yaml `outputs:`):

| device       | default | notes                                                         |
|--------------|---------|---------------------------------------------------------------|
| gate relay   | GPIO17  | most relay boards are active-low: `relay.active_high: false`  |
| green LED    | GPIO27  | through a 330 Ω resistor to GND                               |
| red LED      | GPIO22  | through a 330 Ω resistor to GND                               |
| buzzer       | GPIO23  | active buzzer through an NPN transistor                       |
| exit button  | GPIO24  | to GND, internal pull-up                                      |
| door contact | none    | optional reed switch to GND, internal pull-up; closed = shut  |

Patterns: admit = green + one short beep + relay pulse of `open_seconds`; deny = red + one
long beep; fault = red blinking until cleared; prompt (please measure) = two short beeps.

Fail closed: the relay is created off (`initial_value=False`), `close()` switches it off
before anything else, `GateOutputs` is a context manager, and `fail_closed_on_signals`
turns SIGTERM/SIGHUP into a normal exit so those paths run. A SIGKILL runs no Python code:
the systemd unit's `ExecStopPost=gate-station relay-off` switches the relay off then.

`pin_factory` is gpiozero's: None for the default (lgpio on a Pi 5), or `MockFactory()` in
tests and on a PC. Failure modes: a pin already in use or an unavailable factory raises
OutputError naming the device and pin.
"""

from __future__ import annotations

import atexit
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from drivers.errors import OutputError

SHORT_BEEP_S = 0.1
LONG_BEEP_S = 1.0
FAULT_BLINK_S = 0.25


@dataclass(frozen=True)
class OutputPins:
    """BCM pin numbers and the gate's open time (s). No defaults here: config.yaml's
    `outputs:` section is the one place they are set (station.hardware.output_pins)."""

    relay: int
    relay_active_high: bool
    green_led: int
    red_led: int
    buzzer: int
    exit_button: int | None
    door_contact: int | None
    open_seconds: float


class GateOutputs:
    """The gate's actuators and its two inputs."""

    def __init__(self, pins: OutputPins, pin_factory: Any = None) -> None:
        from gpiozero import LED, Button, Buzzer, DigitalOutputDevice, GPIOZeroError

        self.pins = pins
        self._lock = threading.Lock()
        self._devices: list[Any] = []
        try:
            self.relay = self._add(DigitalOutputDevice(
                pins.relay, active_high=pins.relay_active_high, initial_value=False,
                pin_factory=pin_factory))
            self.green = self._add(LED(pins.green_led, pin_factory=pin_factory))
            self.red = self._add(LED(pins.red_led, pin_factory=pin_factory))
            self.buzzer = self._add(Buzzer(pins.buzzer, pin_factory=pin_factory))
            self.exit_button = (
                self._add(Button(pins.exit_button, pull_up=True, bounce_time=0.05,
                                 pin_factory=pin_factory))
                if pins.exit_button is not None else None)
            self.door = (
                self._add(Button(pins.door_contact, pull_up=True, pin_factory=pin_factory))
                if pins.door_contact is not None else None)
        except (GPIOZeroError, OSError, RuntimeError) as error:
            self.close()
            raise OutputError(f"GPIO set-up failed: {error}") from error

    def _add(self, device: Any) -> Any:
        self._devices.append(device)
        return device

    # -- patterns -------------------------------------------------------------------------

    def admit(self) -> None:
        """Green, one short beep, and open the gate for `open_seconds`."""
        with self._lock:
            self.red.off()
            self.green.blink(on_time=self.pins.open_seconds, off_time=0, n=1)
            self.buzzer.beep(on_time=SHORT_BEEP_S, off_time=0, n=1)
            self.relay.blink(on_time=self.pins.open_seconds, off_time=0, n=1)

    def open_for_exit(self) -> None:
        """Open the gate for someone leaving: relay pulse only, no lights."""
        with self._lock:
            self.relay.blink(on_time=self.pins.open_seconds, off_time=0, n=1)

    def deny(self) -> None:
        """Red and one long beep; the relay is forced off."""
        with self._lock:
            self.relay.off()
            self.green.off()
            self.red.blink(on_time=LONG_BEEP_S * 2, off_time=0, n=1)
            self.buzzer.beep(on_time=LONG_BEEP_S, off_time=0, n=1)

    def prompt(self) -> None:
        """Two short beeps: code read, please step up to the thermometer."""
        with self._lock:
            self.buzzer.beep(on_time=SHORT_BEEP_S, off_time=SHORT_BEEP_S, n=2)

    def show_fault(self) -> None:
        """Red blinking until `clear_fault`; the relay is forced off."""
        with self._lock:
            self.relay.off()
            self.green.off()
            self.red.blink(on_time=FAULT_BLINK_S, off_time=FAULT_BLINK_S)

    def clear_fault(self) -> None:
        with self._lock:
            self.red.off()

    def relay_off(self) -> None:
        self.relay.off()

    @property
    def gate_open(self) -> bool:
        """Whether the relay is holding the gate open right now."""
        return bool(self.relay.is_active)

    @property
    def door_open(self) -> bool | None:
        """True when the door contact is open, None when there is no contact."""
        return None if self.door is None else not self.door.is_pressed

    def on_exit_pressed(self, callback: Callable[[], None]) -> None:
        if self.exit_button is not None:
            self.exit_button.when_pressed = callback

    # -- fail closed ----------------------------------------------------------------------

    def close(self) -> None:
        """Relay off first, then release every pin. Safe to call more than once."""
        relay = getattr(self, "relay", None)
        if relay is not None and not relay.closed:
            relay.off()
        for device in reversed(self._devices):
            device.close()
        self._devices.clear()

    def __enter__(self) -> GateOutputs:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def fail_closed_on_signals(outputs: GateOutputs) -> Callable[[], None]:
    """Relay off at interpreter exit and on SIGTERM/SIGHUP (turned into SystemExit, so
    `finally` blocks and context managers run). Returns a function that undoes it."""

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        outputs.relay_off()
        raise SystemExit(0 if signum == signal.SIGTERM else 128 + signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    atexit.register(outputs.close)

    def undo() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        atexit.unregister(outputs.close)

    return undo
