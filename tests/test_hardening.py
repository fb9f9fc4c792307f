"""Smaller hardening items of issue 9 on the station: inert CSV exports, private files,
and a config that refuses an unsafe town URL and says when no bundle key is pinned."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.files import atomic_write
from station.ledger import Ledger, Record
from tests import bundlesign

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "GATE_STATION_DRIVERS": "fake"}
DANGEROUS = ['=HYPERLINK("http://evil.invalid","点击")', "+cmd|' /C calc'!A0", "@SUM(1+1)",
             "-2+3", "\tTAB", "\rCR"]


def gate(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-c", "from station.cli import main; main()",
                             *args], cwd=ROOT, env=ENV, capture_output=True, timeout=120)
    # decoded by hand: text mode would turn a CR inside a cell into a newline
    return subprocess.CompletedProcess(result.args, result.returncode,
                                       result.stdout.decode(), result.stderr.decode())


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_csv_exports_neutralise_formula_cells(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.db"
    with Ledger(ledger_path) as ledger:
        for index, text in enumerate(DANGEROUS):
            ledger.append(Record(kind="entry", time=f"2021-02-01T07:{index:02d}:00.000+08:00",
                                 day="2021-02-01", clock_synced=True, direction="in",
                                 subject=text[:32], name=text[:32], org=text,
                                 color="green", temperature_c=36.5, decision="admit"))
    config = tmp_path / "config.yaml"
    config.write_text(f"ledger:\n  path: {ledger_path}\n")
    log = gate("log", "--date", "2021-02-01", "--format", "csv", "--config", str(config))
    assert log.returncode == 0, log.stderr
    register = tmp_path / "register.csv"
    daily = gate("report", "daily", "--date", "2021-02-01", "--csv", str(register),
                 "--config", str(config))
    assert daily.returncode == 0, daily.stderr
    for text in (log.stdout, register.read_bytes().decode()):
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))
        assert len(rows) == len(DANGEROUS)
        dangerous = {d[:32] for d in DANGEROUS} | set(DANGEROUS)
        for row in rows:  # whatever the headers' language: every dangerous cell is inert
            cells = [cell for cell in row.values() if cell]
            risky = [cell for cell in cells if cell.lstrip("'") in dangerous]
            assert len(risky) >= 2 and all(cell.startswith("'") for cell in risky), row
            assert "36.5" in cells  # numbers stay numbers


def test_a_negative_number_is_not_text() -> None:
    from station.present import write_csv

    out = io.StringIO()
    write_csv([{"a": -3.5, "b": "-3.5"}], ("a", "b"), out)
    assert out.getvalue().splitlines()[1] == "-3.5,'-3.5"


def test_ledger_and_bundle_files_are_created_0600_whatever_the_umask(
        tmp_path: Path, umask_022: None) -> None:
    with Ledger(tmp_path / "ledger.db") as ledger:
        ledger.append(Record(kind="exit", time="2021-02-01T07:00:00.000+08:00",
                             day="2021-02-01", clock_synced=True))
        for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    atomic_write(tmp_path / "bundle.json", b"{}")
    assert (tmp_path / "bundle.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("url", "ok"), [
    ("https://town.example/", True),
    ("http://127.0.0.1:8080", True),
    ("http://127.9.9.9", True),
    ("http://localhost:8000/", True),
    ("http://[::1]:8000", True),
    ("http://town.example/", False),
    ("http://10.0.0.5:8080", False),
    ("http://127.0.0.1.evil.example/", False),
    ("ftp://town.example/", False),
])
def test_check_config_refuses_plain_http_except_to_loopback(tmp_path: Path, url: str,
                                                            ok: bool) -> None:
    config = tmp_path / "config.yaml"
    pin = bundlesign.spki(bundlesign.new_key())
    config.write_text(f"town:\n  url: '{url}'\n  bundle_keys: ['{pin}']\n")
    result = gate("check-config", "--config", str(config))
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert result.stderr.startswith(f"{config}:town.url:"), result.stderr
        assert "Traceback" not in result.stderr


def test_check_config_warns_without_a_pinned_bundle_key_and_names_a_bad_one(
        tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("station:\n  locale: en\ntown:\n  url: https://town.example/\n")
    result = gate("check-config", "--config", str(config))
    assert result.returncode == 0
    assert "town.bundle_keys: warning: no bundle key is pinned" in result.stderr
    config.write_text("town:\n  url: https://town.example/\n")  # zh_CN, the default
    assert "town.bundle_keys：警告" in gate("check-config", "--config", str(config)).stderr
    config.write_text("town:\n  url: https://town.example/\n  bundle_keys: ['AAAA']\n")
    result = gate("check-config", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{config}:town.bundle_keys:") and "[0]" in result.stderr
