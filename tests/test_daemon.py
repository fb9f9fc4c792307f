"""`gate-station run` as systemd runs it: notify protocol, watchdog, clean SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from station.ledger import Ledger, LedgerError
from station.sdnotify import Notifier

ROOT = Path(__file__).resolve().parent.parent


def test_ready_watchdog_and_stopping_then_exit_0(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(20)
    config = tmp_path / "config.yaml"
    config.write_text(f"drivers: fake\nledger:\n  path: {tmp_path / 'ledger.db'}\n"
                      f"bundle:\n  path: {tmp_path / 'bundle.json'}\n")
    process = subprocess.Popen(
        [sys.executable, "-c", "from station.cli import main; main()", "run", "--config",
         str(config)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
    try:
        messages = [listener.recv(4096).decode()]
        assert messages[0].startswith("READY=1")
        deadline = time.monotonic() + 10
        while messages.count("WATCHDOG=1") < 3 and time.monotonic() < deadline:
            messages.append(listener.recv(4096).decode())
        assert messages.count("WATCHDOG=1") >= 3
        process.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in messages:
            messages.append(listener.recv(4096).decode())
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        listener.close()
    assert process.returncode == 0, stderr
    assert "relay off" in stderr and "Traceback" not in stderr
    with Ledger.open_readonly(tmp_path / "ledger.db") as ledger:
        assert ledger.count() == 0  # idle: nothing to record


def test_notifier_is_silent_outside_systemd() -> None:
    notifier = Notifier({})
    assert not notifier.enabled and notifier.notify("READY=1") is False
    notifier.watchdog()  # no WATCHDOG_USEC: nothing to do


def test_notifier_abstract_socket_and_interval() -> None:
    notifier = Notifier({"NOTIFY_SOCKET": "@gate-test", "WATCHDOG_USEC": "30000000"})
    assert notifier.address == "\0gate-test"
    assert notifier.watchdog_interval_s == 15.0
    assert notifier.notify("READY=1") is False  # nobody listening: reported, not raised


def test_a_missing_thermometer_bus_is_a_recorded_fault_not_a_crash(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"drivers: fake\nthermometer:\n  driver: mlx90614\n  bus: 99\n"
                      f"ledger:\n  path: {tmp_path / 'ledger.db'}\n"
                      f"bundle:\n  path: {tmp_path / 'bundle.json'}\n")
    process = subprocess.Popen(
        [sys.executable, "-c", "from station.cli import main; main()", "run", "--config",
         str(config)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        faults: list[str] = []
        while time.monotonic() < deadline and not faults:
            time.sleep(0.3)
            try:  # the daemon may be creating the file right now: read it once it is whole
                with Ledger.open_readonly(tmp_path / "ledger.db") as ledger:
                    faults = [f"{r.device}: {r.detail}" for r in ledger.find(kind="fault")]
            except LedgerError:
                continue
        assert process.poll() is None  # still running, denying everyone until it is fixed
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert faults and faults[0].startswith("thermometer: cannot open I2C bus /dev/i2c-99")
    assert process.returncode == 0, stderr


def test_the_system_clock_knows_its_boot() -> None:
    from station.clock import SystemClock

    clock = SystemClock()
    first = clock.boottime_ns()
    assert clock.boot_id and clock.boot_id == SystemClock().boot_id
    assert clock.boottime_ns() >= first > 0
    assert isinstance(clock.synced(), bool)
    offset = clock.now().utcoffset()
    assert offset is not None and offset.total_seconds() == 8 * 3600  # CST


def test_an_unopenable_ledger_keeps_the_gate_shut_not_crashing(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("a file where the ledger's directory should be")
    config = tmp_path / "config.yaml"
    config.write_text(f"drivers: fake\nledger:\n  path: {tmp_path / 'not-a-dir' / 'l.db'}\n"
                      f"bundle:\n  path: {tmp_path / 'bundle.json'}\n")
    process = subprocess.Popen(
        [sys.executable, "-c", "from station.cli import main; main()", "run", "--config",
         str(config)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4)
        assert process.poll() is None  # waiting, gate shut, not in a restart loop
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "LEDGER CANNOT BE OPENED — admitting nobody" in stderr
    assert "relay off" in stderr
