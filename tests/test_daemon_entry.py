"""`gate-station-daemon`, the lean entry point gate-station.service runs (station/daemon_main.py):
the same gate loop as `gate-station run`, without the command-line library, with CPython's
own SHA-256 instead of OpenSSL's, and under PYTHONOPTIMIZE=2 as the unit sets it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ED25519_VECTOR

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "GATE_STATION_DRIVERS": "fake"}
UNIT = {**ENV, "PYTHONOPTIMIZE": "2"}  # as systemd/gate-station.service sets it
ED25519_KEY = {"kid": "ZG1r5J2fAEg=", "alg": "EdDSA",
               "spki": "MCowBQYDK2VwAyEAebVWLo/mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ="}


def daemon(*args: str, env: dict[str, str] = UNIT) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "station.daemon_main", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finished(process: subprocess.Popen[str], timeout_s: float = 120.0) -> str:
    """The stderr of a daemon expected to exit by itself; killed if it does not (so that a
    failing test leaves no gate running)."""
    try:
        return process.communicate(timeout=timeout_s)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def station_config(folder: Path, *, locale: str = "en") -> Path:
    (folder / "bundle.json").write_text(json.dumps({
        "version": "test-1", "rules": {"fever_threshold_c": 37.3},
        "trust": {"keys": [ED25519_KEY], "revocations": [{"sub": "W9", "before": 1}]}}))
    path = folder / "config.yaml"
    path.write_text(f"station:\n  locale: {locale}\ndrivers: fake\nledger:\n"
                    f"  path: {folder / 'ledger.db'}\nbundle:\n  path: {folder / 'bundle.json'}\n",
                    encoding="utf-8")
    return path


def wait_for_log(process: subprocess.Popen[str], path: Path, needle: str,
                 timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the daemon exited with {process.returncode}: "
                                 f"{process.communicate()[1][-2000:]}")
        if needle in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"no {needle!r} in the daemon's log within {timeout_s} s")


def test_the_unit_runs_the_lean_entry_optimized_and_the_installer_compiles_for_it() -> None:
    unit = (ROOT / "systemd/gate-station.service").read_text()
    assert ("ExecStart=/opt/gate-station/venv/bin/gate-station-daemon --config "
            "/etc/gate-station/config.yaml") in unit
    assert "Environment=PYTHONOPTIMIZE=2" in unit
    installed = subprocess.run(["sh", str(ROOT / "scripts/install.sh"), "--dry-run"],
                               capture_output=True, text=True, timeout=60).stdout
    assert "/opt/gate-station/venv/bin/python -OO -m compileall" in installed


def test_the_daemon_runs_the_gate_without_click_or_openssl(tmp_path: Path) -> None:
    config = station_config(tmp_path)
    log = tmp_path / "daemon.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "station.daemon_main", "--config",
             str(config)], cwd=ROOT, env=UNIT, stdout=subprocess.DEVNULL, stderr=sink,
            text=True)
        try:
            wait_for_log(process, log, "gate gate-01 running")
            maps = Path(f"/proc/{process.pid}/maps").read_text()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
    text = log.read_text()
    imported = {line.rsplit("|", 1)[1].strip() for line in text.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "station.daemon" in imported and "hashlib" in imported  # the real loop ran
    assert "bundle test-1: 1 trusted keys, 1 revocations" in text
    assert not {"click", "ssl"} & imported
    # `_hashlib` is asked for (importtime lists the refused attempts) but never loaded
    assert "_hashlib" not in maps and "libcrypto.so.3" not in maps
    assert "stopped; relay off" in text
    assert "Traceback" not in text


@pytest.mark.parametrize(("config_text", "expected"), [
    (None, "配置文件不存在"),  # no file to take a language from: zh_CN, as `gate-station run`
    ("station: {locale: en}\nledger: {pathx: 1}\n", "ledger.pathx: unknown key"),
    ("station: {locale: en}\nthermometer: {bus: -1}\n", "thermometer.bus:"),
    ("station: {locale: zh_CN}\nledger: {pathx: 1}\n", "ledger.pathx: 未知的键"),
])
def test_a_config_it_cannot_load_is_one_line_per_problem_and_exit_2(
        tmp_path: Path, config_text: str | None, expected: str) -> None:
    path = tmp_path / "config.yaml"
    if config_text is not None:
        path.write_text(config_text, encoding="utf-8")
    process = daemon("--config", str(path))
    err = finished(process)
    assert process.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], err
    assert str(path) in lines[0]


def test_an_unknown_option_is_one_usage_line() -> None:
    process = daemon("--bogus")
    err = finished(process)
    assert process.returncode == 2
    assert err.splitlines() == ["gate-station-daemon: unrecognized arguments: --bogus "
                                "(usage: gate-station-daemon [--config PATH] [-v])"]


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_config_that_is_not_a_file_is_one_line_and_never_read(tmp_path: Path,
                                                                  kind: str) -> None:
    path = tmp_path / "config.yaml"
    if kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)  # reading it would block for ever
    process = daemon("--config", str(path))
    err = finished(process)
    assert process.returncode == 2
    expected = "这是文件夹，不是文件" if kind == "folder" else "配置文件不存在"
    assert err.splitlines() == [f"{path}：{expected}"]


AS_CONFIGURED = {k: v for k, v in ENV.items() if k != "GATE_STATION_DRIVERS"}


def gate_station_run(*args: str) -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-c", "from station.cli import main; main()",
                             "run", *args], cwd=ROOT, env=AS_CONFIGURED, capture_output=True,
                            text=True, timeout=120)
    return result.returncode, result.stderr


@pytest.mark.parametrize("config_text", [
    "station: {locale: en}\ndrivers: real\n",  # no GPIO chip on this machine: a device error
    "station: {locale: zh_CN}\ndrivers: real\n",
    "station: {locale: en}\nledger: {pathx: 1}\n",
    "station: {locale: en}\nstation: {locale: en}\n",
    "station:\n  enterprise: 2021-13-45\n",
], ids=["device-en", "device-zh", "unknown-key", "duplicate-key", "off-calendar"])
def test_it_fails_as_gate_station_run_fails(tmp_path: Path, config_text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config_text, encoding="utf-8")
    ours = daemon("--config", str(path), env={**AS_CONFIGURED, "PYTHONOPTIMIZE": "2"})
    err = finished(ours)
    status, theirs = gate_station_run("--config", str(path))
    assert (ours.returncode, err.replace("gate-station-daemon:", "gate-station:")) == (
        status, theirs)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# The gate loop itself run the way the unit runs the daemon (docstrings and asserts not loaded,
# CPython's SHA-256): every decision of these scenarios must be the one the ordinary
# interpreter makes. Event ids are random; everything else is fixed by the virtual clock.
AS_THE_UNIT = ("from station.daemon_main import use_builtin_hashes\nuse_builtin_hashes()\n"
               "import sys\nassert sys.modules['_hashlib'] is None\n"
               "from station.cli import main\nmain()")


def simulated(scenario: Path, *, as_the_unit: bool) -> list[dict[str, object]]:
    code = AS_THE_UNIT if as_the_unit else "from station.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "simulate", str(scenario), "--json", "--config",
         str(ROOT / "config.yaml")], cwd=ROOT, env=UNIT if as_the_unit else ENV,
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    for row in rows:
        row.pop("event_id")
    return rows


def revocation_scenario(folder: Path) -> Path:
    scenario = folder / "revoked.yaml"
    scenario.write_text(
        'start: "2021-02-01T07:30:00+08:00"\n'
        f"trust:\n  keys:\n  - {json.dumps(ED25519_KEY)}\n"
        "revocations:\n- {sub: W9, before: 1612000000}\nevents:\n"
        f"  - at: '07:30:05'\n    qr: '{ED25519_VECTOR}'\n    temperature: 36.5\n"
        "  - at: '+10s'\n    code: {sub: W9, color: green, iat: '-48h', exp: '+1h'}\n"
        "    temperature: 36.5\n", encoding="utf-8")
    return scenario


@pytest.mark.parametrize("name", ["seed-returning.yaml", "faults.yaml", "revoked"])
def test_the_gate_decides_the_same_as_the_unit_runs_it(tmp_path: Path, name: str) -> None:
    scenario = revocation_scenario(tmp_path) if name == "revoked" else ROOT / "scenarios" / name
    ordinary = simulated(scenario, as_the_unit=False)
    assert ordinary and any(row["decision"] == "admit" for row in ordinary)
    assert simulated(scenario, as_the_unit=True) == ordinary
    if name == "revoked":
        assert [row["decision"] for row in ordinary] == ["admit", "deny"]
        assert ordinary[1]["reasons"] == ["revoked"]


def test_the_units_stop_command_works_under_its_environment(tmp_path: Path) -> None:
    """ExecStopPost (`gate-station relay-off`) inherits the unit's PYTHONOPTIMIZE=2."""
    result = subprocess.run(
        [sys.executable, "-c", "from station.cli import main; main()", "relay-off", "--config",
         str(station_config(tmp_path))], cwd=ROOT, env=UNIT, capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "relay off"
