"""Where a new user got lost (issue 15): the command line as a newcomer types it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from station.ledger import Record
from station.present import display_width, table_header, table_row

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "GATE_STATION_DRIVERS": "fake"}


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    module = {"gate-station": "station.cli", "town-server": "sync.town.cli"}[args[0]]
    return subprocess.run([sys.executable, "-c", f"from {module} import main; main()",
                           *args[1:]], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("codes")
    made = run("town-server", "keys", "new", "--out", str(base / "keys"))
    assert made.returncode == 0, made.stderr
    entry = json.loads(made.stdout)
    (base / "trust.json").write_text(json.dumps({"keys": [entry], "revocations": [
        {"sub": "W9", "before": 1612137600}]}))  # 2021-02-01T08:00:00+08:00
    (key,) = (base / "keys").glob("*.key")

    def code(sub: str) -> str:
        done = run("town-server", "issue-code", "--key", str(key), "--sub", sub, "--color",
                   "green", "--at", "2021-02-01T07:00:00+08:00", "--ttl", "24h")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    en = base / "en.yaml"
    en.write_text("station:\n  locale: en\n")
    return {"trust": str(base / "trust.json"), "code": code("W1"), "revoked": code("W9"),
            "keys_new_stderr": made.stderr, "kid": entry["kid"],
            "kid_hex": entry["kid_hex"], "en": str(en),
            "base": str(base)}


def test_config_is_taken_before_or_after_the_command(issued: dict[str, str]) -> None:
    before = run("gate-station", "--config", issued["en"], "verify-code", issued["code"],
                 "--trust", issued["trust"], "--at", "2021-02-01T08:00:00+08:00")
    after = run("gate-station", "verify-code", issued["code"], "--trust", issued["trust"],
                "--at", "2021-02-01T08:00:00+08:00", "--config", issued["en"])
    assert before.returncode == after.returncode == 0, before.stderr
    assert before.stdout == after.stdout and before.stdout.startswith("valid")
    group = run("gate-station", "report", "--config", issued["en"], "daily", "--ledger",
                str(Path(issued["base"]) / "none.db"))
    assert group.returncode == 1 and "no ledger here" in group.stderr
    both = run("gate-station", "--config", issued["en"], "check-config", "--config",
               "config.yaml")
    assert both.returncode == 2 and "--config given twice" in both.stderr


def test_revocations_are_shown_in_cst_not_unix_seconds(issued: dict[str, str]) -> None:
    for config, expected in ((issued["en"], "W9: codes issued before 2021-02-01 08:00:00 are "
                                            "revoked"),
                             ("config.yaml", "W9：2021-02-01 08:00:00 之前签发的码已撤销")):
        done = run("gate-station", "verify-code", issued["revoked"], "--trust", issued["trust"],
                   "--at", "2021-02-01T09:00:00+08:00", "--config", config)
        assert done.returncode == 1
        assert expected in done.stdout and "1612137600" not in done.stdout, done.stdout


def test_key_ids_are_hex_for_people_with_the_json_spelling_beside(
        issued: dict[str, str]) -> None:
    kid_hex = base64.b64decode(issued["kid"]).hex()
    assert issued["kid_hex"] == kid_hex  # beside the JSON kid in the printed trust entry
    assert f"issuer-{kid_hex}.key" in issued["keys_new_stderr"]


def test_decode_exits_non_zero_when_it_finds_no_code(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    blank = tmp_path / "blank.png"
    assert cv2.imwrite(str(blank), np.full((200, 200), 255, dtype=np.uint8))
    done = run("gate-station", "decode", str(blank), "--config", "config.yaml")
    assert done.returncode == 1 and "未找到二维码" in done.stderr
    as_json = run("gate-station", "decode", str(blank), "--json", "--config", "config.yaml")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["texts"] == []


def test_check_config_names_a_missing_token_file_absolutely(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "config.yaml").write_text("station:\n  locale: en\n"
                                        "town:\n  url: https://town.example/\n"
                                        "  token_file: token\n")
    done = run("gate-station", "check-config", "--config", "etc/config.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"{folder / 'config.yaml'}:town.token_file: {folder / 'token'}: no such file (the "
        "town issues the token with `town-server stations add`)")
    (folder / "token").write_text("t")
    done = run("gate-station", "check-config", "--config", "etc/config.yaml", cwd=tmp_path)
    assert done.returncode == 0 and str(folder / "config.yaml") in done.stdout


def denied_record() -> Record:
    return Record(kind="entry", time="2021-02-22T07:01:02.000+08:00", day="2021-02-22",
                  clock_synced=True, seq=12, subject="W0000001", name="张*", color="yellow",
                  temperature_c=37.9, decision="deny", reasons=("color", "fever"))


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_reason_column_sits_under_its_header(locale: str) -> None:
    header, row = table_header(locale), table_row(denied_record(), locale)  # type: ignore[arg-type]
    label = "原因" if locale == "zh_CN" else "reasons"
    first_reason = "健康码非绿码" if locale == "zh_CN" else "Health code is not green"
    assert display_width(header[:header.index(label)]) == \
        display_width(row[:row.index(first_reason)])


def test_english_reasons_are_joined_the_english_way() -> None:
    row = table_row(denied_record(), "en")
    assert "Health code is not green: no entry; Fever: go to the observation point" in row
    assert "；" not in row and "；" in table_row(denied_record(), "zh_CN")


def test_issue_code_png_into_a_missing_or_impossible_folder_is_one_line(
        issued: dict[str, str], tmp_path: Path) -> None:
    (key,) = (Path(issued["base"]) / "keys").glob("*.key")
    regular = tmp_path / "a-file"
    regular.write_text("x")
    for target in (tmp_path / "missing" / "c.png", regular / "c.png"):
        done = run("town-server", "issue-code", "--key", str(key), "--sub", "W1", "--color",
                   "green", "--png", str(target))
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.strip() == f"town-server: {target}: cannot write: " + (
            "No such file or directory" if "missing" in str(target) else "Not a directory")
