"""Serial QR scanner module (GM65/GM805-style) over pyserial.

Wiring: module TX → Pi RXD (GPIO15, pin 10), module RX → Pi TXD (GPIO14, pin 8), 5 V, GND;
port `/dev/serial0` (disable the serial console with raspi-config), or a USB-serial adapter
(`/dev/ttyUSB0`). Default 9600 baud 8N1. The module must be set to append CR or CR LF to each
code (its factory default on most GM65 units).

Behaviour:
- Bytes are buffered until CR or LF; each non-empty line is one code. Partial lines wait
  for the rest; a line longer than 4,096 bytes without a terminator is dropped (noise).
- Garbage bytes are tolerated: NUL and other control characters are stripped, and a line
  that is not valid UTF-8 is decoded as GB18030 (what Chinese scanner firmware may send),
  else dropped with the count kept in `dropped_lines`.
- The same code within the hold-off window is reported once.
- If the port vanishes (USB unplugged: SerialException/OSError), `scan` raises ScannerError
  and later calls reopen it with a capped exponential backoff (0.5 s → 10 s).

`url` is anything `serial.serial_for_url` takes: a device path, or `loop://` in tests.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from drivers.holdoff import HoldOff
from drivers.protocols import SerialPort
from drivers.reopen import Reopener
from drivers.text import decode_scanned

MAX_LINE = 4096
_CONTROL = bytes(range(0x20)).replace(b"\t", b"") + b"\x7f"


def open_serial_port(url: str, baudrate: int = 9600) -> SerialPort:
    import serial

    port: SerialPort = serial.serial_for_url(url, baudrate=baudrate, bytesize=8, parity="N",
                                             stopbits=1, timeout=0.05)
    return port


def clean_line(raw: bytes) -> str | None:
    """A scanned line's text with control bytes removed, or None if it is not text."""
    data = raw.translate(None, _CONTROL).strip()
    return decode_scanned(data) if data else None


class SerialScanner:
    """Codes from a serial scanner module. `open_port` returns a pyserial-like port."""

    def __init__(
        self,
        open_port: Callable[[], SerialPort],
        *,
        holdoff_s: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_port = open_port
        self._holdoff = HoldOff(holdoff_s)
        self._sleep = sleep
        self._monotonic = monotonic
        self._port: SerialPort | None = None
        self._buffer = bytearray()
        self._lines: list[bytes] = []
        self._reopen = Reopener(sleep, monotonic)
        self.dropped_lines = 0

    @property
    def fault(self) -> str | None:
        return self._reopen.fault

    def _ensure_open(self) -> SerialPort:
        if self._port is not None:
            return self._port
        self._reopen.wait()
        try:
            self._port = self._open_port()
        except (OSError, ValueError) as error:  # SerialException derives from OSError
            self._reopen.failed(f"serial scanner could not be opened: {error}")
        return self._port

    def _read_available(self) -> None:
        port = self._ensure_open()
        try:
            chunk = port.read(max(1, port.in_waiting))
        except (OSError, TypeError) as error:  # pyserial raises TypeError on a vanished fd
            self._drop_port()
            self._reopen.failed(f"serial scanner vanished: {error}")
        self._reopen.succeeded()
        self._buffer.extend(chunk)
        while True:
            cut = min((i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0),
                      default=-1)
            if cut < 0:
                break
            self._lines.append(bytes(self._buffer[:cut]))
            del self._buffer[: cut + 1]
        if len(self._buffer) > MAX_LINE:
            self._buffer.clear()
            self.dropped_lines += 1

    def _drop_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):  # a dead port may fail to close any way
                port.close()

    def scan(self, timeout_s: float) -> str | None:
        deadline = self._monotonic() + timeout_s
        while True:
            while self._lines:
                raw = self._lines.pop(0)
                text = clean_line(raw)
                if text is None:
                    if raw.strip(b"\r\n\x00 "):
                        self.dropped_lines += 1
                    continue
                if self._holdoff.is_new(text, self._monotonic()):
                    return text
            if self._monotonic() >= deadline:
                return None
            self._read_available()

    def close(self) -> None:
        if self._port is not None:
            self._drop_port()
