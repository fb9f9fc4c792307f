"""Serial scanner over pyserial's loop:// — partial lines, garbage, vanishing port."""

from __future__ import annotations

import pytest
import serial

from drivers.errors import ScannerError
from drivers.serial_scanner import MAX_LINE, SerialScanner, clean_line, open_serial_port


class ScannerModule:
    """A GM65 on a loop:// port that can be unplugged: opening fails while it is gone."""

    def __init__(self) -> None:
        self.present = True
        self.port: serial.SerialBase | None = None
        self.opens = 0

    def open(self) -> serial.SerialBase:
        if not self.present:
            raise serial.SerialException("could not open port /dev/ttyUSB0: No such file")
        self.opens += 1
        self.port = open_serial_port("loop://")
        return self.port

    def send(self, data: bytes) -> None:
        assert self.port is not None
        self.port.write(data)

    def unplug(self) -> None:
        self.present = False
        assert self.port is not None
        self.port.close()


@pytest.fixture
def module() -> ScannerModule:
    return ScannerModule()


def test_one_code_per_crlf_line(module: ScannerModule) -> None:
    scanner = SerialScanner(module.open, holdoff_s=0)
    scanner.scan(0.01)  # opens the port
    module.send(b"THP1:AAA\r\nTHP1:BBB\n")
    assert scanner.scan(0.5) == "THP1:AAA"
    assert scanner.scan(0.5) == "THP1:BBB"
    assert scanner.scan(0.1) is None


def test_a_partial_line_waits_for_its_end(module: ScannerModule) -> None:
    scanner = SerialScanner(module.open, holdoff_s=0)
    scanner.scan(0.01)
    module.send(b"THP1:PAR")
    assert scanner.scan(0.15) is None
    module.send(b"TIAL\r")
    assert scanner.scan(0.5) == "THP1:PARTIAL"


def test_garbage_bytes_are_stripped_and_bad_lines_dropped(module: ScannerModule) -> None:
    scanner = SerialScanner(module.open, holdoff_s=0)
    scanner.scan(0.01)
    module.send(b"\x00\x00\xff\xfe\x80\r\n\x02THP1:OK\x03\r\n")
    assert scanner.scan(0.5) == "THP1:OK"
    assert scanner.dropped_lines == 1


def test_chinese_utf8_and_gb18030_lines() -> None:
    assert clean_line("张*".encode()) == "张*"
    assert clean_line("张*".encode("gb18030")) == "张*"
    assert clean_line(b"\x00\x01") is None


def test_an_endless_line_without_terminator_is_dropped(module: ScannerModule) -> None:
    scanner = SerialScanner(module.open, holdoff_s=0)
    scanner.scan(0.01)
    for _ in range(2):  # loop:// holds at most 4 KiB in flight, so send it in halves
        module.send(b"X" * (MAX_LINE // 2 + 10))
        scanner.scan(0.2)
    module.send(b"\rTHP1:AFTER\r")
    assert scanner.scan(0.5) == "THP1:AFTER"
    assert scanner.dropped_lines == 1


def test_the_same_code_within_holdoff_is_reported_once(module: ScannerModule) -> None:
    scanner = SerialScanner(module.open, holdoff_s=3.0)
    scanner.scan(0.01)
    module.send(b"THP1:TWICE\rTHP1:TWICE\r")
    assert scanner.scan(0.5) == "THP1:TWICE"
    assert scanner.scan(0.2) is None


def test_a_vanished_port_is_a_fault_and_is_reopened(module: ScannerModule) -> None:
    slept: list[float] = []
    scanner = SerialScanner(module.open, holdoff_s=0, sleep=slept.append)
    scanner.scan(0.01)
    module.unplug()
    with pytest.raises(ScannerError, match="vanished"):
        scanner.scan(0.2)
    with pytest.raises(ScannerError, match="could not be opened"):
        scanner.scan(0.2)
    assert scanner.fault is not None
    assert slept and slept[-1] > 0  # it waits between attempts instead of spinning
    module.present = True
    scanner.scan(0.01)
    module.send(b"THP1:BACK\r\n")
    assert scanner.scan(0.5) == "THP1:BACK"
    assert scanner.fault is None and module.opens == 2
