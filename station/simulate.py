"""`gate-station simulate`: a scenario through the real gate loop, on fakes and a virtual clock.

The same `Gate`, policy, ledger and GPIO code as the daemon; the MLX90614 driver over the
fake SMBus (the scenario's readings become register values, its faults injected bus faults),
the camera scanner over the fake camera (codes rendered into real QR frames and decoded),
gpiozero's MockFactory for the pins. Time jumps from one event to the next, so a whole shift
runs in seconds. Each ledger record is reported (`on_record`) as soon as it is committed and
the gate has acted on it.

Its records are made up, so they must never pass for real ones: a simulation refuses the
configured ledger (`ledger.path`) and any existing ledger it did not make itself, and a
ledger it creates is marked as simulated in its metadata (`Ledger(path, simulated=True)`),
which the sync client refuses to push.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from drivers.fake_camera import FakeCamera
from drivers.outputs import GateOutputs
from station import hardware
from station.clock import VirtualClock
from station.codes import Color, HealthClaims, Returning, issue
from station.config import Config, PolicySettings
from station.errors import ConfigError, StationError
from station.gate import Gate, GateTiming
from station.ledger import Ledger, Record
from station.scenario import Event, Scenario, ScenarioError
from station.testing import READING_FAULT_TO_BUS, ROOM_C, ScriptedThermometer, SwitchableLedger
from station.timeparse import parse_duration
from station.trust import TrustList, trust_entry


def run_policy(config: Config, overrides: dict[str, Any], source: str) -> PolicySettings:
    """config.yaml's policy with the scenario's `policy:` laid over it (nested keys too)."""
    try:
        return config.policy.with_overrides(overrides, "policy")
    except ConfigError as error:
        raise ScenarioError(key="scenario.policy", source=source, problem=error) from None


def run_trust(scenario: Scenario, key: ed25519.Ed25519PrivateKey, source: str) -> TrustList:
    document = scenario.trust or {}
    keys = [trust_entry(key.public_key(), "500118"), *document.get("keys", [])]
    revocations = [*document.get("revocations", []), *scenario.revocations]
    try:
        return TrustList.from_document({"keys": keys, "revocations": revocations},
                                       f"{source}: trust")
    except Exception as error:
        raise ScenarioError(str(error)) from None


class SimulationRefused(StationError):
    """A simulation was asked to write where real records are (or may one day be) kept."""


def check_simulation_ledger(path: Path, config: Config) -> None:
    """Refuse the configured ledger as a simulation's ledger, existing yet or not (the daemon
    would write real people into it next), and any existing file that is not a ledger a
    simulation made (LedgerError for one that is no ledger at all)."""
    configured = Path(config.ledger.path)
    same = path.resolve() == configured.resolve()
    if not same and path.exists() and configured.exists():
        same = path.samefile(configured)
    if same:
        raise SimulationRefused(key="simulate.own_ledger", path=path.resolve())
    if path.exists():
        with Ledger.open_readonly(path) as existing:
            if not existing.is_simulated:
                raise SimulationRefused(key="simulate.not_simulated", path=path.resolve())


def simulate(
    scenario: Scenario,
    times: list[dt.datetime],
    config: Config,
    ledger_path: Path,
    *,
    source: str = "scenario",
    on_record: Callable[[Record], None] | None = None,
) -> Ledger:
    """Run the scenario; return the (open) ledger it wrote. SimulationRefused or LedgerError
    before anything runs when `ledger_path` is the configured ledger or a ledger that no
    simulation made."""
    check_simulation_ledger(ledger_path, config)
    ledger = SwitchableLedger(ledger_path, simulated=True)
    clock = VirtualClock(scenario.start)
    policy = run_policy(config, scenario.policy, source)
    issuer_key = ed25519.Ed25519PrivateKey.generate()
    trust = run_trust(scenario, issuer_key, source)

    devices = hardware.on_fakes(config)
    fakes = hardware.Fakes()
    driver = hardware.build_thermometer(devices, fakes, sleep=clock.sleep,
                                        monotonic=clock.monotonic)
    scanner = hardware.build_scanner(devices, fakes, sleep=clock.sleep,
                                     monotonic=clock.monotonic)
    outputs = hardware.build_outputs(devices, fakes)
    assert fakes.smbus is not None and fakes.camera is not None and fakes.pin_factory
    fakes.smbus.object_c = fakes.smbus.ambient_c = ROOM_C
    thermometer = ScriptedThermometer(driver, fakes.smbus)
    camera, pin_factory = fakes.camera, fakes.pin_factory
    gate = Gate(thermometer=thermometer, scanner=scanner, outputs=outputs, ledger=ledger,
                trust=lambda: trust, policy=lambda: policy, clock=clock,
                timing=GateTiming(), on_record=on_record)
    outputs.on_exit_pressed(gate.press_exit)
    try:
        for index, (event, at) in enumerate(zip(scenario.events, times, strict=True)):
            clock.advance_to(at)
            if event.power_cut is not None:  # health-code.md's clock floor applies from here
                clock.power_cut(parse_duration(event.power_cut.clock))
                continue
            if event.ntp:
                clock.ntp()
                continue
            _play(event, index, at, gate, thermometer, camera, ledger, outputs, pin_factory,
                  issuer_key, source)
    finally:
        outputs.close()
        pin_factory.reset()
    return ledger


def _play(event: Event, index: int, at: dt.datetime, gate: Gate,
          thermometer: ScriptedThermometer, camera: FakeCamera, ledger: SwitchableLedger,
          outputs: GateOutputs, pin_factory: Any, issuer_key: ed25519.Ed25519PrivateKey,
          source: str) -> None:
    if event.fault is not None or event.recover is not None:
        broken = event.fault is not None
        device = event.fault or event.recover
        if device == "thermometer":
            thermometer.device_fault = broken
            if broken:
                thermometer.bus.inject("oserror-5", times=None)
            else:
                thermometer.bus.clear()
        elif device == "camera":
            if broken:
                camera.unplug()
            else:
                camera.plug()
        else:
            ledger.broken = broken
        gate.step()
        return
    if event.exit:
        _press_exit(gate, outputs, pin_factory)
        gate.step()
        return
    thermometer.readings.extend(event.readings)
    text = event.qr if event.qr is not None else (
        _code_text(event, at, issuer_key) if event.code is not None else None)
    if text is not None:
        try:
            camera.show_text(text)
        except ValueError as error:
            raise ScenarioError(key="scenario.not_one_qr", source=source, number=index + 1,
                                error=str(error)) from None
        gate.step()
        camera.show_nothing()
    else:
        first = event.readings[0]
        if isinstance(first, str):
            thermometer.bus.inject(READING_FAULT_TO_BUS[first], times=None)  # type: ignore[arg-type]
        else:
            thermometer.bus.object_c = first
        deadline = gate.clock.monotonic() + gate.timing.no_code_after_s + 1.0
        gate.expect_new_person()
        while gate.clock.monotonic() < deadline and not gate.person_handled:
            gate.step()
    thermometer.end_of_person()


def _code_text(event: Event, at: dt.datetime, key: ed25519.Ed25519PrivateKey) -> str:
    spec = event.code
    assert spec is not None
    instant = int(at.timestamp())
    claims = HealthClaims(
        iss=spec.iss, iat=instant + int(parse_duration(spec.iat)),
        exp=instant + int(parse_duration(spec.exp)), sub=spec.sub, name=spec.name,
        color=Color[spec.color.upper()], nat=spec.nat, org=spec.org,
        ret=Returning(spec.returned.date, spec.returned.origin_code) if spec.returned else None,
    )
    return issue(key, claims)


def _press_exit(gate: Gate, outputs: GateOutputs, pin_factory: Any) -> None:
    """Press the exit button on the mock pin (or queue a press when there is no button)."""
    if outputs.exit_button is None:
        gate.press_exit()
        return
    pin = pin_factory.pin(outputs.pins.exit_button)
    queued = gate.pending_exits
    pin.drive_low()
    deadline = time.monotonic() + 1.0
    while gate.pending_exits == queued and time.monotonic() < deadline:
        time.sleep(0.001)
    pin.drive_high()
