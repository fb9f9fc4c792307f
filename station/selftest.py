"""`gate-station selftest`: exercise every configured device once and report each check.

On real hardware a person watches the LEDs and listens for the buzzer; on fakes the pin
states are read back, so the same command is a CI check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from station import hardware
from station.config import Config
from station.errors import StationError

SELFTEST_TEXT = "GATE-STATION SELFTEST 自检"


@dataclass(frozen=True)
class Check:
    device: str
    check: str
    ok: bool
    detail: str


def _run(device: str, check: str, action: Callable[[], str]) -> Check:
    try:
        return Check(device, check, True, action())
    except StationError as error:
        return Check(device, check, False, str(error))
    except (OSError, ValueError, RuntimeError) as error:  # a driver library's own failure
        return Check(device, check, False, f"{type(error).__name__}: {error}")


def run_selftest(config: Config, *, relay: bool = False, blink_s: float = 0.3) -> list[Check]:
    fakes = hardware.Fakes()
    checks: list[Check] = []

    try:
        thermometer = hardware.build_thermometer(config, fakes)
    except StationError as error:
        checks.append(Check("thermometer", "open", False, str(error)))
    else:
        if fakes.smbus is not None:
            fakes.smbus.object_c = 36.4
        try:
            checks.append(_run("thermometer", "ambient",
                               lambda: f"{thermometer.ambient_temperature():.2f} °C"))
            checks.append(_run("thermometer", "object",
                               lambda: f"{thermometer.object_temperature():.2f} °C"))
            wanted = config.thermometer.emissivity

            def emissivity() -> str:
                before = thermometer.emissivity()
                thermometer.set_emissivity(wanted)
                after = thermometer.emissivity()
                return f"{after:.3f}" + ("" if abs(before - after) < 1e-4 else
                                        f" (was {before:.3f}; power-cycle the sensor)")

            checks.append(_run("thermometer", "emissivity", emissivity))
        finally:
            thermometer.close()

    try:
        scanner = hardware.build_scanner(config, fakes)
    except StationError as error:
        checks.append(Check("scanner", "open", False, str(error)))
    else:
        try:
            if fakes.camera is not None:
                fakes.camera.show_text(SELFTEST_TEXT)
            if fakes.serial_port is not None:
                fakes.serial_port.write((SELFTEST_TEXT + "\r\n").encode())

            def scan() -> str:
                text = scanner.scan(0.5)
                if fakes.camera is None and fakes.serial_port is None:
                    return f"read {text!r}" if text else "device open, no code in view"
                if text != SELFTEST_TEXT:
                    raise StationError(f"decoded {text!r}, expected {SELFTEST_TEXT!r}")
                return f"decoded {text!r}"

            checks.append(_run("scanner", config.scanner.type, scan))
        finally:
            scanner.close()

    try:
        outputs = hardware.build_outputs(config, fakes)
    except StationError as error:
        checks.append(Check("outputs", "open", False, str(error)))
        return checks
    with outputs:
        devices = [("green LED", outputs.green), ("red LED", outputs.red),
                   ("buzzer", outputs.buzzer)]
        if relay:
            devices.append(("relay", outputs.relay))
        for name, device in devices:
            def pulse(device: object = device) -> str:
                device.on()  # type: ignore[attr-defined]
                on = device.value  # type: ignore[attr-defined]
                time.sleep(blink_s)
                device.off()  # type: ignore[attr-defined]
                if not on or device.value:  # type: ignore[attr-defined]
                    raise StationError("pin did not follow on → off")
                return f"on {blink_s:.1f} s, then off"
            checks.append(_run(name, "on/off", pulse))
        if not relay:
            checks.append(Check("relay", "skipped", True, "not clicked (use --relay)"))
    return checks
