"""The gate loop on fakes and a virtual clock: decisions, fail-closed ordering, faults, exits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from drivers.camera import CameraScanner
from drivers.fake_camera import FakeCamera
from drivers.fake_smbus import FakeSMBus
from drivers.mlx90614 import MLX90614
from drivers.outputs import GateOutputs
from station.clock import VirtualClock
from station.codes import Color, HealthClaims, issue
from station.config import PolicySettings
from station.gate import Gate, GateTiming
from station.ledger import Ledger, Record
from station.testing import ScriptedThermometer, SwitchableLedger
from station.trust import TrustList, trust_entry
from tests.support import default_measure_settings, default_pins

RELAY = 17  # active-low: pin HIGH = relay off
DOOR = 25  # reed switch to GND: pin LOW = door shut


class RelayWatchingLedger(SwitchableLedger):
    """A real ledger that notes the relay pin's state at the moment of every commit."""

    relay_pin: Any = None
    relay_states_at_commit: list[bool]

    def append(self, *records: Record) -> list[Record]:
        self.relay_states_at_commit.append(self.relay_pin.state)
        return super().append(*records)


@dataclass
class Harness:
    gate: Gate
    clock: VirtualClock
    bus: FakeSMBus
    thermometer: ScriptedThermometer
    camera: FakeCamera
    ledger: RelayWatchingLedger
    factory: Any
    key: ed25519.Ed25519PrivateKey
    records: list[Record]

    def code(self, sub: str = "W1", color: Color = Color.GREEN) -> str:
        now = int(self.clock.now().timestamp())
        return issue(self.key, HealthClaims(iss="500118", iat=now - 60, exp=now + 3600,
                                            sub=sub, color=color))

    def person(self, text: str | None, *readings: Any) -> None:
        self.thermometer.readings.extend(readings)
        if text is not None:
            self.camera.show_text(text)
        self.gate.step()
        self.camera.show_nothing()
        self.thermometer.end_of_person()

    @property
    def relay(self) -> Any:
        return self.factory.pin(RELAY)


@pytest.fixture
def harness(tmp_path: Path, mock_factory: Any) -> Iterator[Harness]:
    clock = VirtualClock()
    bus = FakeSMBus()
    bus.object_c = 22.0
    driver = MLX90614(bus, settings=default_measure_settings(), sleep=clock.sleep,
                      monotonic=clock.monotonic)
    thermometer = ScriptedThermometer(driver, bus)
    camera = FakeCamera(sleep=clock.sleep)
    scanner = CameraScanner(camera.open, sleep=clock.sleep, monotonic=clock.monotonic)
    outputs = GateOutputs(default_pins(open_seconds=0.2, door_contact=DOOR), mock_factory)
    ledger = RelayWatchingLedger(tmp_path / "ledger.db")
    ledger.relay_pin = mock_factory.pin(RELAY)
    ledger.relay_states_at_commit = []
    key = ed25519.Ed25519PrivateKey.generate()
    trust = TrustList.from_document({"keys": [trust_entry(key.public_key(), "500118")]})
    policy = PolicySettings()
    records: list[Record] = []
    mock_factory.pin(DOOR).drive_low()  # the door starts shut
    gate = Gate(thermometer=thermometer, scanner=scanner, outputs=outputs, ledger=ledger,
                trust=lambda: trust, policy=lambda: policy, clock=clock,
                timing=GateTiming(door_held_open_s=30.0), on_record=records.append)
    outputs.on_exit_pressed(gate.press_exit)
    yield Harness(gate, clock, bus, thermometer, camera, ledger, mock_factory, key, records)
    outputs.close()
    ledger.close()


def summary(records: list[Record]) -> list[tuple[str, str | None, tuple[str, ...]]]:
    return [(r.kind, r.decision, r.reasons) for r in records]


def test_a_green_code_and_normal_reading_commit_then_open(harness: Harness) -> None:
    harness.relay.clear_states()
    harness.person(harness.code(), 36.5)
    assert summary(harness.records) == [("entry", "admit", ())]
    (entry,) = harness.records
    assert entry.subject == "W1" and entry.temperature_c == 36.5 and entry.seq == 1
    assert harness.ledger.relay_states_at_commit == [True]  # relay still off at commit time
    assert [s.state for s in harness.relay.states] == [True, False]  # then it opened
    assert harness.gate.latencies_s and harness.gate.latencies_s[-1] < 0.5


def test_records_carry_clock_and_boot_identity(harness: Harness) -> None:
    harness.person(harness.code(), 36.5)
    (entry,) = harness.records
    assert entry.time.startswith("2021-02-01T07:00") and entry.time.endswith("+08:00")
    assert entry.clock_synced and entry.boot_id == harness.clock.boot_id
    assert entry.boottime_ns is not None and entry.boottime_ns > 0


def test_an_unverifiable_code_is_denied_unmeasured(harness: Harness) -> None:
    before = harness.bus.transactions
    harness.person("THP1:NOT-A-REAL-CODE", 36.5)
    assert summary(harness.records) == [("entry", "deny", ("encoding",))]
    assert harness.bus.transactions - before < 5  # only the idle presence check, no measure
    assert harness.relay.state is True


def test_fever_is_rechecked_then_denied_with_an_alarm(harness: Harness) -> None:
    harness.person(harness.code("W2"), 37.9, 38.1)
    assert summary(harness.records) == [("entry", "deny", ("fever",)),
                                        ("alarm", "deny", ("fever",))]
    assert harness.records[0].readings == (37.9, 38.1)
    assert harness.records[0].temperature_c == 38.1


def test_a_fever_reading_that_rechecks_normal_admits(harness: Harness) -> None:
    harness.person(harness.code("W3"), 37.4, 36.8)
    assert summary(harness.records) == [("entry", "admit", ())]
    assert harness.records[0].readings == (37.4, 36.8)


def test_no_ledger_no_entry(harness: Harness) -> None:
    harness.ledger.broken = True
    harness.relay.clear_states()
    harness.person(harness.code("W4"), 36.5)
    assert harness.records == []
    assert [s.state for s in harness.relay.states] == [True]  # the relay never moved
    assert "ledger" in harness.gate.faults
    harness.person(harness.code("W5"), 36.5)  # still broken: still nobody
    assert [s.state for s in harness.relay.states] == [True]
    harness.ledger.broken = False
    harness.gate.step()
    (outage,) = harness.records
    assert outage.kind == "fault" and "people turned away unrecorded: 2" in (outage.detail or "")
    assert "ledger" not in harness.gate.faults
    harness.person(harness.code("W6"), 36.5)
    assert harness.records[-1].decision == "admit"


def test_a_sensor_fault_denies_and_is_recorded_with_its_recovery(harness: Harness) -> None:
    harness.person(harness.code("W7"), "io-error")
    assert summary(harness.records) == [("fault", None, ()), ("entry", "deny", ("sensor-fault",))]
    assert harness.records[0].device == "thermometer"
    harness.gate.step()  # the next idle check reads the sensor fine
    assert (harness.records[-1].device, harness.records[-1].detail) == ("thermometer", "recovered")


def test_a_camera_fault_blinks_red_and_recovers(harness: Harness) -> None:
    red = harness.factory.pin(22)
    harness.camera.unplug()
    harness.gate.step()
    assert harness.records[-1].device == "camera"
    assert (harness.records[-1].detail or "").startswith("camera ")
    assert "camera" in harness.gate.faults
    harness.gate.step()  # still gone: no second fault record
    assert len(harness.records) == 1
    harness.camera.plug()
    harness.gate.step()
    assert (harness.records[-1].device, harness.records[-1].detail) == ("camera", "recovered")
    assert red.state is False


def test_exit_button_records_then_opens(harness: Harness) -> None:
    button = harness.factory.pin(24)
    harness.relay.clear_states()
    button.drive_low()
    button.drive_high()
    harness.gate.step()
    assert summary(harness.records) == [("exit", None, ())]
    assert harness.records[0].direction == "out"
    assert harness.ledger.relay_states_at_commit == [True]
    assert [s.state for s in harness.relay.states] == [True, False]


def test_a_person_without_a_code_is_recorded_once(harness: Harness) -> None:
    harness.bus.object_c = 36.6
    harness.thermometer.readings.append(38.0)
    for _ in range(40):  # 8 s of standing there
        harness.gate.step()
    assert summary(harness.records) == [("entry", "deny", ("no-code", "fever")),
                                        ("alarm", "deny", ("fever",))]
    harness.thermometer.end_of_person()
    harness.gate.step()
    harness.bus.object_c = 36.6  # someone else steps up
    harness.thermometer.readings.append(36.6)
    for _ in range(40):
        harness.gate.step()
    assert len(harness.records) == 3 and harness.records[-1].reasons == ("no-code",)


def test_the_same_code_within_the_holdoff_is_one_person(harness: Harness) -> None:
    text = harness.code("W8")
    harness.person(text, 36.5)
    harness.person(text, 36.5)
    assert len(harness.records) == 1
    harness.clock.sleep(3.0)
    harness.person(text, 36.5)
    assert len(harness.records) == 2


def test_a_yellow_code_is_denied_after_measuring(harness: Harness) -> None:
    harness.person(harness.code("W9", Color.YELLOW), 36.5)
    assert summary(harness.records) == [("entry", "deny", ("color",))]
    assert harness.records[0].color == "yellow"


def test_walking_away_before_measurement_is_a_timeout(harness: Harness) -> None:
    started = harness.clock.monotonic()
    harness.person(harness.code("W10"))
    assert summary(harness.records) == [("entry", "deny", ("timeout",))]
    assert harness.clock.monotonic() - started >= 10.0  # waited policy.timeout


def test_the_ledger_holds_what_was_announced(harness: Harness) -> None:
    harness.person(harness.code("W11"), 36.5)
    harness.person(harness.code("W12"), 37.9, 38.0)
    stored = list(Ledger.open_readonly(harness.ledger.path).all_records())
    assert stored == harness.records


def test_a_door_held_open_while_the_gate_is_shut_is_a_fault_until_it_closes(
        harness: Harness) -> None:
    door = harness.factory.pin(DOOR)
    door.drive_high()  # opened by hand, relay off
    harness.gate.step()
    harness.clock.sleep(29.0)
    harness.gate.step()
    assert harness.records == []  # not yet: a door may be open briefly
    harness.clock.sleep(2.0)
    harness.gate.step()
    (fault,) = harness.records
    assert (fault.kind, fault.device) == ("fault", "outputs")
    assert "door held open" in (fault.detail or "")
    assert harness.relay.state is True  # relay still off (active-low: HIGH)
    harness.clock.sleep(1.0)
    assert len(harness.records) == 1  # one record per fault, not one per step
    door.drive_low()
    harness.gate.step()
    assert (harness.records[-1].device, harness.records[-1].detail) == ("outputs", "recovered")


def test_the_door_open_while_the_relay_holds_the_gate_open_is_no_fault(harness: Harness) -> None:
    harness.person(harness.code("W9"), 36.5)
    assert harness.records[-1].decision == "admit"
    door = harness.factory.pin(DOOR)
    door.drive_high()  # the worker walks through while the relay is open
    for _ in range(3):
        harness.gate.step()
    assert [r.kind for r in harness.records] == ["entry"]
    door.drive_low()
    harness.clock.sleep(60.0)
    harness.gate.step()
    assert [r.kind for r in harness.records] == ["entry"]
