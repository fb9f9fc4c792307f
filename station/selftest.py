"""`gate-station selftest`: exercise every configured device once and report each check.

On real hardware a person watches the LEDs and listens for the buzzer; on fakes the pin
states are read back, so the same command is a CI check. Every label and result is in the
configured locale (station/messages.py); a device's own error message is quoted as it gave it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from station import hardware
from station.config import Config
from station.errors import StationError
from station.messages import Locale, text

SELFTEST_TEXT = "GATE-STATION SELFTEST 自检"


@dataclass(frozen=True)
class Check:
    """One check: `device` and `check` are catalogue keys (`device.…`, `selftest.check.…`);
    `label`/`check_label` give them in a locale; `detail` is already in the run's locale."""

    device: str
    check: str
    ok: bool
    detail: str

    def label(self, locale: Locale) -> str:
        return text(f"device.{self.device}", locale)

    def check_label(self, locale: Locale) -> str:
        return text(f"selftest.check.{self.check}", locale)


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
    locale = config.station.locale

    try:
        thermometer = hardware.build_thermometer(config, fakes)
    except StationError as error:
        checks.append(Check("thermometer", "open", False, str(error)))
    else:
        if fakes.smbus is not None:
            fakes.smbus.object_c = 36.4
        try:
            checks.append(_run("thermometer", "ambient", lambda: text(
                "selftest.celsius", locale, value=thermometer.ambient_temperature())))
            checks.append(_run("thermometer", "object", lambda: text(
                "selftest.celsius", locale, value=thermometer.object_temperature())))
            wanted = config.thermometer.emissivity

            def emissivity() -> str:
                before = thermometer.emissivity()
                thermometer.set_emissivity(wanted)
                after = thermometer.emissivity()
                if abs(before - after) < 1e-4:
                    return text("selftest.emissivity", locale, value=after)
                return text("selftest.emissivity_changed", locale, value=after, before=before)

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
                got = scanner.scan(0.5)
                if fakes.camera is None and fakes.serial_port is None:
                    return (text("selftest.read", locale, got=got) if got
                            else text("selftest.no_code", locale))
                if got != SELFTEST_TEXT:
                    raise StationError(text("selftest.decoded_wrong", locale, got=got))
                return text("selftest.decoded", locale)

            checks.append(_run("scanner", config.scanner.type, scan))
        finally:
            scanner.close()

    try:
        outputs = hardware.build_outputs(config, fakes)
    except StationError as error:
        checks.append(Check("outputs", "open", False, str(error)))
        return checks
    with outputs:
        devices = [("green_led", outputs.green), ("red_led", outputs.red),
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
                    raise StationError(text("selftest.pin_stuck", locale))
                return text("selftest.pulse", locale, seconds=blink_s)
            checks.append(_run(name, "on_off", pulse))
        if not relay:
            checks.append(Check("relay", "skipped", True,
                                text("selftest.relay_skipped", locale)))
    return checks
