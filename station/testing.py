"""Test support shipped with the package (as gpiozero ships `pins.mock`): doubles that wrap
the real drivers and ledger so that `simulate`, the benchmarks and the tests can script what
happens at the gate. Nothing here is used by the daemon.

- `ScriptedThermometer`: the real MLX90614 driver on a fake SMBus whose scene follows a
  script of readings (numbers or bus faults).
- `SwitchableLedger`: the real ledger, which can be told to refuse writes (disk full).
"""

from __future__ import annotations

from collections import deque

from drivers.fake_smbus import FakeSMBus
from drivers.mlx90614 import MLX90614
from drivers.protocols import Measurement
from station.ledger import Ledger, LedgerError, Record
from station.scenario import Reading

ROOM_C = 22.0
READING_FAULT_TO_BUS = {"pec-error": "pec", "error-flag": "error-flag", "0xFFFF": "0xffff",
                        "io-error": "oserror-5"}


class ScriptedThermometer:
    """The real MLX90614 driver on a fake bus whose scene follows the scenario.

    Each `measure()` takes the next scripted reading (the last one repeats): a number puts
    that temperature in front of the sensor, a fault name injects that bus fault for the
    measurement, and no reading at all leaves the sensor looking at the room.
    """

    def __init__(self, driver: MLX90614, bus: FakeSMBus) -> None:
        self.driver = driver
        self.bus = bus
        self.readings: deque[Reading] = deque()
        self.device_fault = False

    def read_body(self) -> float:
        return self.driver.read_body()

    def object_temperature(self) -> float:
        return self.driver.object_temperature()

    def ambient_temperature(self) -> float:
        return self.driver.ambient_temperature()

    def measure(self, timeout_s: float) -> Measurement | None:
        reading: Reading | None = None
        if self.readings:
            reading = self.readings.popleft() if len(self.readings) > 1 else self.readings[0]
        if reading is None:
            self.bus.object_c = ROOM_C
        elif isinstance(reading, str):
            self.bus.inject(READING_FAULT_TO_BUS[reading], times=None)  # type: ignore[arg-type]
        else:
            self.bus.object_c = reading
        try:
            return self.driver.measure(timeout_s)
        finally:
            if isinstance(reading, str) and not self.device_fault:
                self.bus.clear()

    def end_of_person(self) -> None:
        self.readings.clear()
        self.bus.object_c = ROOM_C
        if not self.device_fault:
            self.bus.clear()


class SwitchableLedger(Ledger):
    """The real ledger, which a scenario's `fault: ledger` makes refuse writes (disk full)."""

    broken = False

    def append(self, *records: Record) -> list[Record]:
        if self.broken:
            raise LedgerError(f"{self.path}: database or disk is full (simulated)")
        return super().append(*records)
