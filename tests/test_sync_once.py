"""`gate-station sync` as an operator runs it: `--once` is bounded and says what it did,
signals end every wait at once, `-v` is readable, and the token file must be private."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from station import config as config_module
from sync import client as client_module
from sync.client import SyncClient
from tests.scripted_town import ScriptedTown
from tests.townkit import ROOT, fill_ledger, free_port, station_setup

SYNC = [sys.executable, "-c", "from station.cli import main; main()", "sync"]


@pytest.fixture
def town() -> Iterator[ScriptedTown]:
    with ScriptedTown() as server:
        yield server


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_once_gives_up_on_an_unreachable_town_with_a_one_line_reason(tmp_path: Path,
                                                                     locale: str) -> None:
    config = station_setup(tmp_path, f"http://127.0.0.1:{free_port()}", "t",
                           once_give_up_s=2, backoff_base_s=0.2, backoff_cap_s=0.5)
    config.write_text(config.read_text().replace("station:\n", f"station:\n  locale: {locale}"
                                                 "\n", 1))
    fill_ledger(tmp_path / "ledger.db", 5)
    started = time.monotonic()
    result = subprocess.run([*SYNC, "--once", "--config", str(config)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert result.returncode == 1 and took < 20, (took, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
    if locale == "en":
        assert last.startswith("sync --once: gave up after") and "unreachable" in last
        assert "5 records kept" in last
    else:  # the summary and the reason in the station's language (issue 15, Language)
        assert last.startswith("sync --once：") and "无法连接镇服务器" in last, last
        assert "5 条记录保留在台账中" in last and "已推送 0 条" in result.stderr


def test_once_has_a_bounded_default() -> None:
    assert config_module.TownSettings().once_give_up_s == 120


@pytest.mark.parametrize("once", [True, False])
def test_sigterm_ends_a_long_wait_at_once(tmp_path: Path, town: ScriptedTown,
                                          once: bool) -> None:
    town.push_answer = lambda _request: (503, {"detail": "busy"}, {"Retry-After": "300"})
    config = station_setup(tmp_path, town.url, "t", once_give_up_s=1000, heartbeat_s=600,
                           bundle_s=600)
    config.write_text(config.read_text().replace("station:\n", "station:\n  locale: en\n", 1))
    fill_ledger(tmp_path / "ledger.db", 3)
    process = subprocess.Popen([*SYNC, *(["--once"] if once else []), "--config",
                                str(config)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not town.pushes and time.monotonic() < deadline:
        time.sleep(0.05)
    assert town.pushes, "the client never pushed"
    time.sleep(0.5)  # now in its 300 s wait
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)
    assert time.monotonic() - sent < 5
    stderr = process.stderr.read() if process.stderr else ""
    assert "Traceback" not in stderr
    if once:
        assert process.returncode == 1 and "interrupted" in stderr
    else:
        assert process.returncode == 0


def test_once_prints_a_summary_and_progress_on_a_long_drain(
        tmp_path: Path, town: ScriptedTown, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import bundlesign

    key = bundlesign.new_key()
    town.bundle = bundlesign.signed(key, bundlesign.document(3))
    config = config_module.load(station_setup(
        tmp_path, town.url, "t", batch=10, bundle_keys=f'["{bundlesign.spki(key)}"]'))
    fill_ledger(tmp_path / "ledger.db", 35, recent=True)
    monkeypatch.setattr(client_module, "PROGRESS_EVERY_S", 0.0)
    lines: list[str] = []
    client = SyncClient(config, rng=random.Random(0))
    assert client.run(once=True, report=lines.append) == 0
    client.close()
    assert any(line.startswith("… pushed 10, 25 left") for line in lines), lines
    assert lines[-1].startswith("pushed 35, duplicates 0, quarantined 0, 0 left; "
                                "bundle applied (")


def test_verbose_shows_the_clients_debug_lines_without_http_library_noise(
        tmp_path: Path, town: ScriptedTown) -> None:
    config = station_setup(tmp_path, town.url, "t")
    fill_ledger(tmp_path / "ledger.db", 3)
    result = subprocess.run([*SYNC, "--once", "-v", "--config", str(config)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "DEBUG gate-station.sync: pushed 3, acked through 3" in result.stderr
    assert "httpcore" not in result.stderr and "httpx" not in result.stderr


def test_a_token_file_others_can_read_is_refused_unless_insecure(tmp_path: Path,
                                                                 town: ScriptedTown) -> None:
    config = station_setup(tmp_path, town.url, "t")
    config.write_text(config.read_text().replace("station:\n", "station:\n  locale: en\n", 1))
    os.chmod(tmp_path / "token", 0o644)
    result = subprocess.run([*SYNC, "--once", "--config", str(config)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"gate-station: {tmp_path / 'token'}: the token file can be read by other users "
        "(mode 644): chmod 600 it, or give --insecure-token-file"]
    result = subprocess.run([*SYNC, "--once", "--insecure-token-file", "--config", str(config)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "can be read by other users" in result.stderr  # still said, as a warning
