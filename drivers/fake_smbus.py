"""A fake SMBus with an MLX90614 on it: real registers, real PECs, injectable faults.

It answers the same calls as `smbus2.SMBus` (`i2c_rdwr` with `i2c_msg`, `read_word_data`,
`write_i2c_block_data`) the way the sensor does, so the driver is tested at the bus level.
The scene is set in °C (`object_c`, `ambient_c`, or a `readings` queue that the station's
simulator feeds), and faults are injected once or persistently:

    bus = FakeSMBus()
    bus.object_c = 36.6
    bus.inject("pec", times=1)          # the next read has a corrupted PEC
    bus.inject("oserror-121")           # every read fails with errno 121 until cleared
"""

from __future__ import annotations

import ctypes
import errno
import random
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from drivers.mlx90614 import DEFAULT_ADDRESS, REG_EMISSIVITY, REG_TA, REG_TOBJ1, crc8

Fault = Literal["pec", "error-flag", "0xffff", "oserror-121", "oserror-5", "stuck"]
FAULTS: tuple[Fault, ...] = ("pec", "error-flag", "0xffff", "oserror-121", "oserror-5", "stuck")
I2C_M_RD = 0x0001


def celsius_to_raw(celsius: float) -> int:
    return round((celsius + 273.15) / 0.02)


@dataclass
class _Injection:
    fault: Fault
    remaining: int | None  # None: until cleared
    register: int | None  # None: any register


class FakeSMBus:
    """An I2C bus with one MLX90614 at `address`.

    `noise_lsb` adds ±N LSB (0.02 °C each) of seeded noise to object reads, like a real
    sensor; `readings` is a queue of object temperatures consumed one per object read (the
    last one repeats) — it takes precedence over `object_c` while it is non-empty.
    """

    def __init__(self, address: int = DEFAULT_ADDRESS, *, noise_lsb: int = 1, seed: int = 0):
        self.address = address
        self.object_c = 22.0  # nobody in front: the sensor sees the room
        self.ambient_c = 22.0
        self.noise_lsb = noise_lsb
        self.readings: deque[float] = deque()
        self.eeprom: dict[int, int] = {REG_EMISSIVITY: 0xFFFF}  # factory default ε = 1.0
        self.transactions = 0
        self.closed = False
        self._injections: list[_Injection] = []
        self._random = random.Random(seed)
        self._stuck_word: int | None = None

    # -- scene and faults ---------------------------------------------------------------

    def inject(self, fault: Fault, *, times: int | None = 1, register: int | None = None) -> None:
        """Make the next `times` reads (None: every read until `clear()`) fail with `fault`."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        self._injections.append(_Injection(fault, times, register))

    def clear(self) -> None:
        self._injections.clear()
        self._stuck_word = None

    def _take_fault(self, register: int) -> Fault | None:
        for injection in self._injections:
            if injection.register not in (None, register):
                continue
            if injection.remaining is not None:
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
            return injection.fault
        return None

    # -- the sensor -----------------------------------------------------------------------

    def _register_word(self, register: int) -> int:
        if register == REG_TOBJ1:
            if self.readings:
                celsius = self.readings.popleft() if len(self.readings) > 1 else self.readings[0]
            else:
                celsius = self.object_c
            noise = self._random.randint(-self.noise_lsb, self.noise_lsb) if self.noise_lsb else 0
            return (celsius_to_raw(celsius) + noise) & 0x7FFF
        if register == REG_TA:
            return celsius_to_raw(self.ambient_c) & 0x7FFF
        if register in self.eeprom:
            return self.eeprom[register]
        if 0x20 <= register <= 0x3F:
            return 0x0000
        raise OSError(errno.EREMOTEIO, "MLX90614 NACKs unknown command")

    def _answer(self, register: int) -> bytes:
        self.transactions += 1
        fault = self._take_fault(register)
        if fault == "oserror-121":
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        if fault == "oserror-5":
            raise OSError(errno.EIO, "Input/output error")
        word = self._register_word(register)
        if fault == "stuck":
            if self._stuck_word is None:
                self._stuck_word = word
            word = self._stuck_word
        elif fault == "error-flag":
            word |= 0x8000
        elif fault == "0xffff":
            word = 0xFFFF
        lsb, msb = word & 0xFF, word >> 8
        pec = crc8(bytes([self.address << 1, register, self.address << 1 | 1, lsb, msb]))
        if fault == "pec":
            pec ^= 0x5A
        return bytes([lsb, msb, pec])

    # -- smbus2.SMBus surface --------------------------------------------------------------

    def i2c_rdwr(self, *messages: Any) -> None:
        """A combined transaction: [write(cmd), read(3)] with a repeated start between."""
        self._check_open()
        if len(messages) != 2:
            raise OSError(errno.EINVAL, "MLX90614 reads need write+read in one transaction")
        write, read = messages
        if write.flags & I2C_M_RD or not read.flags & I2C_M_RD or write.len != 1:
            raise OSError(errno.EINVAL, "expected write(1 byte) then read")
        if write.addr != self.address or read.addr != self.address:
            raise OSError(errno.EREMOTEIO, f"no device at 0x{write.addr:02X}")
        answer = self._answer(bytes(write)[0])
        ctypes.memmove(read.buf, answer, min(read.len, len(answer)))

    def read_word_data(self, i2c_addr: int, register: int) -> int:
        self._check_open()
        if i2c_addr != self.address:
            raise OSError(errno.EREMOTEIO, f"no device at 0x{i2c_addr:02X}")
        lsb, msb, _pec = self._answer(register)
        return msb << 8 | lsb

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None:
        """EEPROM write: [LSB, MSB, PEC]. A bad PEC is ignored by the part; a write to a cell
        that was not erased first ORs into it (the datasheet's reason to erase first)."""
        self._check_open()
        if i2c_addr != self.address:
            raise OSError(errno.EREMOTEIO, f"no device at 0x{i2c_addr:02X}")
        if not 0x20 <= register <= 0x3F or len(data) != 3:
            raise OSError(errno.EREMOTEIO, "MLX90614 NACKs this write")
        lsb, msb, pec = data
        if pec != crc8(bytes([self.address << 1, register, lsb, msb])):
            return
        word = msb << 8 | lsb
        old = self.eeprom.get(register, 0)
        self.eeprom[register] = 0 if word == 0 else old | word

    def close(self) -> None:
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise OSError(errno.EBADF, "bus closed")
