"""Melexis MLX90614 infrared thermometer over I2C (SMBus).

Wiring (Raspberry Pi): SDA → GPIO2 (pin 3), SCL → GPIO3 (pin 5), VDD → 3V3, GND → GND;
I2C bus 1 (`/dev/i2c-1`), 7-bit address 0x5A by default. The part speaks SMBus at ≤ 100 kHz
(set `dtparam=i2c_arm_baudrate=100000`, or lower, in config.txt).

Protocol: every register read is one combined transaction — write the command byte, repeated
start, read three bytes (LSB, MSB, PEC) — done with `i2c_rdwr`, which the Pi's i2c-bcm2835
driver issues with a repeated start. The PEC is CRC-8 (polynomial 0x07, init 0) over
`addr<<1, cmd, addr<<1|1, LSB, MSB`. Temperatures are `raw · 0.02 K`, so °C = raw·0.02 − 273.15.

Failure modes, each a ThermometerError subclass, never a number: PEC mismatch (line noise),
the error flag (bit 15 of an object reading), 0xFFFF (the classic "1037.55 °C" read of a
sensor that is not answering properly), values outside the datasheet range, OSError from
the bus (errno 121 remote I/O: no ACK; errno 5: I/O error), and an object reading that stays
bit-identical far longer than sensor noise allows (a stuck sensor). Each read is retried a
bounded number of times (`retries`) before the error is raised.

The first 250 ms after power-up give invalid data; `measure()` only returns a median of
several consecutive plausible samples, which also rides over that window.
"""

from __future__ import annotations

import errno
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from drivers.errors import ThermometerError
from drivers.protocols import Measurement

DEFAULT_ADDRESS = 0x5A
REG_TA = 0x06  # RAM: ambient (die) temperature
REG_TOBJ1 = 0x07  # RAM: object temperature, zone 1
REG_EMISSIVITY = 0x24  # EEPROM 0x04, accessed with command 0x20 | 0x04
EEPROM_WRITE_WAIT_S = 0.01  # datasheet: ≥ 5 ms per erase or write; 10 ms to be safe

OBJECT_RANGE_C = (-70.0, 380.0)
AMBIENT_RANGE_C = (-40.0, 125.0)
ERROR_FLAG = 0x8000
INVALID_RAW = 0xFFFF


class PecError(ThermometerError):
    """The packet error code did not match: the bytes were corrupted on the wire."""


class ErrorFlagError(ThermometerError):
    """The sensor set its error flag (bit 15) on an object reading."""


class InvalidReadingError(ThermometerError):
    """The raw value was 0xFFFF (reads as 1037.55 °C): the sensor did not answer properly."""


class OutOfRangeError(ThermometerError):
    """The decoded temperature is outside what the sensor can measure."""


class BusError(ThermometerError):
    """The I2C bus raised OSError (errno 121: no ACK, errno 5: I/O error, …)."""


class StuckSensorError(ThermometerError):
    """The object reading has been bit-identical for far longer than sensor noise allows."""


def crc8(data: bytes) -> int:
    """SMBus packet error code: CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), init 0."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def raw_to_celsius(raw: int) -> float:
    return raw * 0.02 - 273.15


class SMBusLike(Protocol):
    """What the driver uses of `smbus2.SMBus`; `drivers.fake_smbus.FakeSMBus` provides it too."""

    def i2c_rdwr(self, *i2c_msgs: Any) -> None: ...

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Compensation:
    """Forehead (object) reading → body temperature estimate, in °C.

    body = object + offset_c + ambient_coefficient · (ambient_ref_c − ambient): a cold
    entrance cools the skin, so the estimate is raised by `ambient_coefficient` per degree the
    ambient is below `ambient_ref_c`. Calibrate against a clinical thermometer on site.
    """

    offset_c: float = 0.0
    ambient_coefficient: float = 0.0
    ambient_ref_c: float = 25.0

    def body(self, object_c: float, ambient_c: float) -> float:
        cooling = self.ambient_ref_c - ambient_c
        return object_c + self.offset_c + self.ambient_coefficient * cooling


@dataclass(frozen=True)
class MeasureSettings:
    """How `measure()` samples. `plausible_c` (°C, low and high) is the body range that means
    "a person is there"; it is policy, so it has no default here (config.yaml's
    `policy.plausible_c` is the one place it is set)."""

    plausible_c: tuple[float, float]
    samples: int = 5
    sample_interval_s: float = 0.02
    poll_interval_s: float = 0.05
    compensation: Compensation = field(default_factory=Compensation)
    stuck_reads: int = 50


class MLX90614:
    """The MLX90614 on an SMBus.

    `bus` is an I2C bus number (opened with `smbus2.SMBus` on first use — a missing bus is a
    BusError from the reads, retried on every read — and closed by `close()`), or any object
    with smbus2's SMBus methods (kept open; the caller owns it). `sleep`/`monotonic`
    are injected so tests and the simulator run on a virtual clock.
    """

    def __init__(
        self,
        bus: int | SMBusLike,
        address: int = DEFAULT_ADDRESS,
        *,
        retries: int = 3,
        settings: MeasureSettings,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bus_number = bus if isinstance(bus, int) else None
        self._bus: SMBusLike | None = None if isinstance(bus, int) else bus
        self._owns_bus = isinstance(bus, int)
        self.address = address
        self.retries = retries
        self.settings = settings
        self._sleep = sleep
        self._monotonic = monotonic
        self._last_object_raw: int | None = None
        self._same_object_raw = 0

    # -- register access ------------------------------------------------------------------

    def _open_bus(self) -> SMBusLike:
        """The bus, opened on first use and again after it failed to open, so that a missing
        /dev/i2c-N is a thermometer fault the gate records, not a crash at start."""
        if self._bus is None:
            import smbus2  # hardware library, imported only where used

            try:
                self._bus = smbus2.SMBus(self._bus_number)
            except OSError as error:
                raise BusError(f"cannot open I2C bus /dev/i2c-{self._bus_number}: "
                               f"{error.strerror}") from error
        return self._bus

    def _read_once(self, command: int) -> int:
        from smbus2 import i2c_msg  # message structs only; no device is opened

        write = i2c_msg.write(self.address, [command])
        read = i2c_msg.read(self.address, 3)
        bus = self._open_bus()
        try:
            bus.i2c_rdwr(write, read)
        except OSError as error:
            name = errno.errorcode.get(error.errno or 0, str(error.errno))
            raise BusError(
                f"MLX90614 at 0x{self.address:02X}: I2C error {name} reading 0x{command:02X}"
            ) from error
        lsb, msb, pec = bytes(read)
        expected = crc8(bytes([self.address << 1, command, self.address << 1 | 1, lsb, msb]))
        if pec != expected:
            raise PecError(
                f"MLX90614 at 0x{self.address:02X}: PEC 0x{pec:02X} != 0x{expected:02X} "
                f"reading 0x{command:02X}"
            )
        return msb << 8 | lsb

    def _with_retries(self, read: Callable[[], Any]) -> Any:
        last_error: ThermometerError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(0.002 * attempt)
            try:
                return read()
            except ThermometerError as error:
                last_error = error
        assert last_error is not None
        raise last_error

    def read_register(self, command: int) -> int:
        """One register's 16-bit word, PEC-checked, retried on transient failures."""
        return int(self._with_retries(lambda: self._read_once(command)))

    def _check(self, raw: int, valid: tuple[float, float], what: str) -> float:
        if raw == INVALID_RAW:
            raise InvalidReadingError(f"MLX90614 {what}: raw 0xFFFF (1037.55 °C), not a reading")
        if raw & ERROR_FLAG:
            raise ErrorFlagError(f"MLX90614 {what}: error flag set (raw 0x{raw:04X})")
        celsius = raw_to_celsius(raw)
        if not valid[0] <= celsius <= valid[1]:
            raise OutOfRangeError(
                f"MLX90614 {what}: {celsius:.2f} °C outside {valid[0]}…{valid[1]} °C"
            )
        return celsius

    def _raw_temperature(self, command: int, valid: tuple[float, float], what: str) -> int:
        def read() -> int:
            raw = self._read_once(command)
            self._check(raw, valid, what)
            return raw

        return int(self._with_retries(read))

    def object_temperature(self) -> float:
        """Object (forehead) temperature, °C. Raises a ThermometerError subclass on any fault."""
        raw = self._raw_temperature(REG_TOBJ1, OBJECT_RANGE_C, "object temperature")
        if raw == self._last_object_raw:
            self._same_object_raw += 1
            if self._same_object_raw >= self.settings.stuck_reads:
                raise StuckSensorError(
                    f"MLX90614 object temperature stuck at {raw_to_celsius(raw):.2f} °C for "
                    f"{self._same_object_raw} reads"
                )
        else:
            self._last_object_raw, self._same_object_raw = raw, 0
        return raw_to_celsius(raw)

    def ambient_temperature(self) -> float:
        """Ambient (sensor die) temperature, °C."""
        return raw_to_celsius(self._raw_temperature(REG_TA, AMBIENT_RANGE_C, "ambient temperature"))

    def read_body(self) -> float:
        """One compensated body estimate from a single object and ambient read, °C."""
        ambient = self.ambient_temperature()
        return self.settings.compensation.body(self.object_temperature(), ambient)

    # -- emissivity (EEPROM) -------------------------------------------------------------

    def emissivity(self) -> float:
        return self.read_register(REG_EMISSIVITY) / 65535

    def set_emissivity(self, emissivity: float = 0.98) -> None:
        """Write ε to EEPROM 0x24 (Ke = round(65535·ε)): erase with 0, wait, write, wait, verify.

        Many MLX90614 revisions apply a new emissivity only after a power cycle.
        """
        if not 0.1 <= emissivity <= 1.0:
            raise ValueError(f"emissivity {emissivity} outside 0.1…1.0")
        value = round(65535 * emissivity)
        if self.read_register(REG_EMISSIVITY) == value:
            return
        for word in (0x0000, value):
            self._write_word(REG_EMISSIVITY, word)
            self._sleep(EEPROM_WRITE_WAIT_S)
        written = self.read_register(REG_EMISSIVITY)
        if written != value:
            raise ThermometerError(
                f"MLX90614 emissivity write failed: read back 0x{written:04X}, wanted 0x{value:04X}"
            )

    def _write_word(self, command: int, word: int) -> None:
        lsb, msb = word & 0xFF, word >> 8
        pec = crc8(bytes([self.address << 1, command, lsb, msb]))
        try:
            self._open_bus().write_i2c_block_data(self.address, command, [lsb, msb, pec])
        except OSError as error:
            raise BusError(f"MLX90614 write 0x{command:02X} failed: {error}") from error

    # -- measurement ----------------------------------------------------------------------

    def measure(self, timeout_s: float) -> Measurement | None:
        """Wait for a plausible body reading, then return the median of N samples.

        Returns None when nobody was in front of the sensor within `timeout_s` (no reading
        in the plausible range). Raises ThermometerError on a sensor fault.
        """
        settings = self.settings
        low, high = settings.plausible_c
        deadline = self._monotonic() + timeout_s
        while True:
            ambient = self.ambient_temperature()
            first = self.object_temperature()
            if low <= settings.compensation.body(first, ambient) <= high:
                objects = [first]
                while len(objects) < settings.samples:
                    self._sleep(settings.sample_interval_s)
                    objects.append(self.object_temperature())
                bodies = tuple(round(settings.compensation.body(o, ambient), 2) for o in objects)
                body = statistics.median(bodies)
                if low <= body <= high:  # else the person stepped away while being sampled
                    return Measurement(
                        body_c=round(body, 1),  # 0.1 °C, as clinical thermometers report
                        object_c=round(statistics.median(objects), 2),
                        ambient_c=round(ambient, 2),
                        samples_c=bodies,
                    )
            if self._monotonic() >= deadline:
                return None
            self._sleep(settings.poll_interval_s)

    def close(self) -> None:
        if self._owns_bus and self._bus is not None:
            self._bus.close()
            self._bus = None
