"""The command lines end to end: gate-station and town-server, run as a user would."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "GATE_STATION_DRIVERS": "fake"}


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    module = {"gate-station": "station.cli", "town-server": "sync.town.cli"}[args[0]]
    command = [sys.executable, "-c", f"from {module} import main; main()", *args[1:]]
    return subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=120)


def test_selftest_on_fakes_passes_every_check() -> None:
    result = run("gate-station", "selftest", "--config", "config.yaml")
    assert result.returncode == 0, result.stderr
    assert "失败 0 项" in result.stdout  # config.yaml says locale: zh_CN
    for device in ("测温仪", "扫码器", "绿灯", "红灯", "蜂鸣器", "闸门继电器"):
        assert device in result.stdout


def test_selftest_with_relay_clicks_it() -> None:
    result = run("gate-station", "selftest", "--config", "config.yaml", "--relay")
    assert result.returncode == 0
    assert "闸门继电器" in result.stdout and "已跳过" not in result.stdout


def test_selftest_reports_a_failing_device(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("drivers: fake\nthermometer:\n  driver: mlx90614\n  bus: 99\n")
    result = run("gate-station", "selftest", "--config", str(config))
    assert result.returncode == 1
    assert "失败" in result.stdout and "i2c-99" in result.stdout


def test_check_config_reports_problems_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("station:\n  id: 'no spaces allowed'\n")
    result = run("gate-station", "check-config", "--config", str(config))
    assert result.returncode == 2
    assert f"{config}:station.id:" in result.stderr
    assert "Traceback" not in result.stderr
    assert run("gate-station", "check-config", "--config", "config.yaml").returncode == 0
    missing = run("gate-station", "check-config", "--config", str(tmp_path / "nope.yaml"))
    # no config to take the locale from: zh_CN, the default locale
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"{tmp_path / 'nope.yaml'}：配置文件不存在"


def test_town_keys_issue_png_decode_and_verify_round_trip(tmp_path: Path) -> None:
    made = run("town-server", "keys", "new", "--out", str(tmp_path / "keys"))
    assert made.returncode == 0, made.stderr
    entry = json.loads(made.stdout)
    (key_file,) = (tmp_path / "keys").glob("*.key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"keys": [entry], "revocations": []}))

    png = tmp_path / "code.png"
    issued = run("town-server", "issue-code", "--key", str(key_file), "--sub", "W0012345",
                 "--name", "张*", "--color", "green", "--nat", "2021-01-29",
                 "--returned", "2021-01-30:outside-municipality", "--org", "HL-JX-001",
                 "--at", "2021-02-01T07:00:00+08:00", "--ttl", "24h", "--png", str(png))
    assert issued.returncode == 0, issued.stderr
    text = issued.stdout.strip()
    assert text.startswith("THP1:")

    decoded = run("gate-station", "decode", str(png), "--json")
    assert json.loads(decoded.stdout)["texts"] == [text]

    verified = run("gate-station", "verify-code", "--file", str(png), "--trust", str(trust),
                   "--at", "2021-02-01T08:00:00+08:00", "--config", "config.yaml")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for expected in ("有效", "W0012345", "张*", "绿码", "2021-01-29", "2021-01-30", "市外返回"):
        assert expected in verified.stdout

    expired = run("gate-station", "verify-code", text, "--trust", str(trust),
                  "--at", "2021-02-03T08:00:00+08:00", "--config", "config.yaml")
    assert expired.returncode == 1
    assert "expired" in expired.stdout and "健康码已过期" in expired.stdout


def test_verify_code_in_english(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("station:\n  locale: en\n")
    result = run("gate-station", "verify-code", "THP1:AB", "--config", str(config),
                 "--trust", str(tmp_path / "missing.json"))
    assert result.returncode == 1
    assert "cannot read" in result.stderr
    (tmp_path / "t.json").write_text('{"keys": []}')
    result = run("gate-station", "verify-code", "THP1:AB", "--config", str(config),
                 "--trust", str(tmp_path / "t.json"))
    assert result.returncode == 1
    assert "invalid: encoding — Code is damaged (encoding)" in result.stdout


def test_issue_code_refuses_bad_input_clearly(tmp_path: Path) -> None:
    run("town-server", "keys", "new", "--out", str(tmp_path))
    (key_file,) = tmp_path.glob("*.key")
    bad_origin = run("town-server", "issue-code", "--key", str(key_file), "--sub", "W1",
                     "--color", "green", "--returned", "2021-01-30:mars")
    assert bad_origin.returncode == 2 and "unknown origin 'mars'" in bad_origin.stderr
    long_sub = run("town-server", "issue-code", "--key", str(key_file), "--sub", "W" * 40,
                   "--color", "green")
    assert long_sub.returncode == 1 and "sub (-2)" in long_sub.stderr
    no_key = run("town-server", "issue-code", "--key", str(tmp_path / "none.key"), "--sub",
                 "W1", "--color", "green")
    assert no_key.returncode == 1 and "cannot read key" in no_key.stderr
    for result in (bad_origin, long_sub, no_key):
        assert "Traceback" not in result.stderr


def test_decode_reports_files_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "junk.png").write_text("junk")
    result = run("gate-station", "decode", str(tmp_path / "junk.png"), "--config", "config.yaml")
    assert result.returncode == 2 and "junk.png" in result.stderr


@pytest.mark.parametrize("command", ["selftest", "decode", "check-config", "verify-code",
                                     "relay-off"])
def test_every_command_takes_config(command: str) -> None:
    assert "--config" in run("gate-station", command, "--help").stdout


def test_relay_off_on_fakes() -> None:
    result = run("gate-station", "relay-off", "--config", "config.yaml")
    assert result.returncode == 0 and "继电器已断开" in result.stdout
