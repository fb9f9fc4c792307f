"""Every unit file passes `systemd-analyze verify` with no warning at all.

`systemd-analyze verify` exits 0 even for a misspelled directive ("Unknown key … ignoring"
on stderr), so any output fails the test, not only the exit status.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "systemd").glob("*.service"))
VENV_BIN = str(Path(sys.executable).parent) + "/"


def verify(unit: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # The units name the installed program; point them at this checkout's so that
    # verify can check the executables exist.
    text = unit.read_text().replace("/opt/gate-station/venv/bin/", VENV_BIN)
    copy = tmp_path / unit.name
    copy.write_text(text)
    return subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)],
                          capture_output=True, text=True, timeout=60)


needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and not os.environ.get("CI"),
    reason="systemd-analyze is not installed (CI requires it)")


@needs_systemd
@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_unit_verifies_without_any_warning(unit: Path, tmp_path: Path) -> None:
    result = verify(unit, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stderr


@needs_systemd
def test_the_check_catches_a_misspelled_directive(tmp_path: Path) -> None:
    broken = tmp_path / "src" / "broken.service"
    broken.parent.mkdir()
    broken.write_text((ROOT / "systemd/gate-station.service").read_text()
                      .replace("Restart=on-failure", "Restrat=on-failure"))
    result = verify(broken, tmp_path)
    assert "Unknown key" in result.stderr  # exit status alone would have passed it


def test_station_unit_is_hardened_as_the_design_asks() -> None:
    unit = (ROOT / "systemd/gate-station.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "StartLimitIntervalSec=0",
                 "User=gate-station", "SupplementaryGroups=gpio i2c video dialout",
                 "StateDirectory=gate-station", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "ExecStopPost="):
        assert line in unit
    directives = [ln for ln in unit.splitlines() if not ln.startswith("#")]
    assert not any(ln.startswith("PrivateDevices") for ln in directives)
    assert "time-sync.target" not in "\n".join(directives)


def test_sync_and_town_units_are_hardened() -> None:
    for name in ("gate-sync.service", "town-server.service"):
        unit = (ROOT / "systemd" / name).read_text()
        for line in ("StartLimitIntervalSec=0", "ProtectSystem=strict", "NoNewPrivileges=yes",
                     "PrivateDevices=yes", "StateDirectory=", "Restart="):
            assert line in unit, (name, line)
    assert "User=gate-station" in (ROOT / "systemd/gate-sync.service").read_text()


def test_install_script_dry_run_lists_every_step() -> None:
    result = subprocess.run(["sh", str(ROOT / "scripts/install.sh"), "--dry-run"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for step in ("apt-get install", "useradd --system", "usermod -a -G gpio,i2c,video,dialout",
                 "python3 -m venv", "/etc/gate-station/config.yaml",
                 "install -m 0644 systemd/gate-station.service systemd/gate-sync.service",
                 "systemctl enable --now gate-station.service gate-sync.service"):
        assert step in result.stdout


def test_console_unit_runs_as_the_station_user_and_is_hardened() -> None:
    unit = (ROOT / "systemd/gate-console.service").read_text()
    for line in ("ExecStart=/opt/gate-station/venv/bin/gate-station console --config "
                 "/etc/gate-station/config.yaml", "User=gate-station", "Group=gate-station",
                 "StartLimitIntervalSec=0", "Restart=on-failure", "ProtectSystem=strict",
                 "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
                 "NoNewPrivileges=yes", "StateDirectory=gate-station", "UMask=0077",
                 "CapabilityBoundingSet=\n"):
        assert line in unit, line
    assert "SupplementaryGroups" not in unit  # no GPIO, I2C, camera or serial port
