"""config.yaml validation: the shipped example, defaults, and every kind of problem."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from station import config
from station.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    return info.value.problems


def test_the_shipped_example_is_valid_and_documents_every_section() -> None:
    loaded = config.load(ROOT / "config.yaml")
    assert loaded.station.id == "honglu-jx-01"
    assert loaded.policy.fever_threshold_c == 37.3
    assert loaded.policy.returning.followup_days == (7, 14)
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    for key in ("station:", "thermometer:", "scanner:", "outputs:", "policy:", "ledger:",
                "town:", "bundle:"):
        assert key in text


def test_config_is_frozen() -> None:
    loaded = config.load(ROOT / "config.yaml")
    with pytest.raises(ValueError):
        loaded.station.id = "other"


def test_unknown_keys_and_wrong_types_are_reported_with_their_key(tmp_path: Path) -> None:
    found = problems(tmp_path, "station:\n  idd: x\nthermometer:\n  samples: five\n"
                               "policy:\n  fever_threshold_c: hot\n")
    assert any(p.endswith("config.yaml:station.idd: unknown key") for p in found)
    assert any(":thermometer.samples:" in p for p in found)
    assert any(":policy.fever_threshold_c:" in p for p in found)


def test_strings_are_not_silently_turned_into_numbers(tmp_path: Path) -> None:
    found = problems(tmp_path, "thermometer:\n  samples: '5'\n")
    assert any(":thermometer.samples:" in p for p in found)


def test_ranges_and_cross_field_rules(tmp_path: Path) -> None:
    found = problems(tmp_path, "outputs:\n  buzzer: 17\n  relay:\n    pin: 40\n")
    assert any(":outputs.relay.pin:" in p for p in found)
    found = problems(tmp_path, "outputs:\n  buzzer: 27\n")
    assert any("GPIO27 is used by both green_led and buzzer" in p for p in found)
    found = problems(tmp_path, "policy:\n  plausible_c: [42, 34]\n")
    assert any("plausible_c" in p for p in found)


def test_yaml_syntax_errors_give_line_and_column(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, "station:\n  id: [unclosed\n")
    assert "config.yaml:3:1: not valid YAML" in found


def test_a_date_off_the_calendar_is_a_yaml_error_at_its_line(tmp_path: Path) -> None:
    # YAML's date pattern matches it, `datetime` refuses it: was a ValueError traceback
    (found,) = problems(tmp_path, "station:\n  enterprise: 2021-13-45\n")
    assert ("config.yaml:2:15: not valid YAML: '2021-13-45' is not a date or time on the "
            "calendar") in found
    from station.yamlfile import peek_yaml_file

    assert peek_yaml_file(tmp_path / "config.yaml") is None  # the error's language: zh_CN


def test_nesting_too_deep_for_the_parser_is_one_line(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, "a: " + "[" * 3000 + "]" * 3000 + "\n")
    assert found.endswith("config.yaml: not valid YAML: nested too deeply")


def test_real_dates_still_load(tmp_path: Path) -> None:
    from station.yamlfile import load_yaml_text

    assert load_yaml_text("a: 2021-02-20\nb: 2021-02-20T07:30:00+08:00\n", "x") == {
        "a": dt.date(2021, 2, 20),
        "b": dt.datetime.fromisoformat("2021-02-20T07:30:00+08:00")}


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert problems(tmp_path, "- a\n- b\n") == [f"{tmp_path / 'config.yaml'}: the top level "
                                                 "must be a mapping of sections"]


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("")
    assert config.load(path).policy.recheck == 1


def test_fake_drivers_by_env_and_per_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.delenv(config.DRIVERS_ENV, raising=False)
    path = tmp_path / "config.yaml"
    path.write_text("drivers: real\nthermometer:\n  driver: fake\n")
    loaded = config.load(path)
    assert loaded.uses_fake("thermometer") and not loaded.uses_fake("outputs")
    monkeypatch.setenv(config.DRIVERS_ENV, "fake")
    assert loaded.uses_fake("outputs")


def test_returning_window_accepts_dates(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("policy:\n  returning:\n    window: ['2021-01-28', 2021-03-08]\n")
    window = config.load(path).policy.returning.window
    assert str(window[0]) == "2021-01-28" and str(window[1]) == "2021-03-08"


# -- issue 15: safety and paths ---------------------------------------------------------------

@pytest.mark.parametrize("value", ["", "FAKE", "Fake", "true", "1", "fake ", "mock"])
def test_drivers_env_accepts_only_fake_or_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                value: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("drivers: fake\n")
    monkeypatch.setenv(config.DRIVERS_ENV, value)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.problems == [
        f"GATE_STATION_DRIVERS={value!r}: must be exactly fake or real (lowercase); "
        "unset it to use `drivers:` from config.yaml"]
    loaded = config.validate({"drivers": "fake"}, "x")
    with pytest.raises(ConfigError):  # and a config made another way cannot pick "real" either
        loaded.uses_fake("outputs")


def test_drivers_env_fake_and_real_are_taken(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("drivers: fake\n")
    monkeypatch.setenv(config.DRIVERS_ENV, "real")
    assert not config.load(path).uses_fake("outputs")
    monkeypatch.setenv(config.DRIVERS_ENV, "fake")
    path.write_text("drivers: real\n")
    assert config.load(path).uses_fake("outputs")


def test_the_cli_refuses_a_bad_drivers_env_in_one_line(tmp_path: Path, en_config: str) -> None:
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "from station.cli import main; main()", "selftest", "--relay",
         "--config", en_config], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, config.DRIVERS_ENV: "FAKE"})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == ("GATE_STATION_DRIVERS='FAKE': must be exactly fake or real "
                                     "(lowercase); unset it to use `drivers:` from config.yaml")


@pytest.mark.parametrize(("text", "line", "key", "first"), [
    ("station:\n  id: gate-a\nledger:\n  path: l.db\nstation:\n  id: gate-b\n", 5, "station", 1),
    ("station:\n  id: gate-a\n  locale: en\n  id: gate-b\n", 4, "id", 2),
    ("policy:\n  returning:\n    nat_max_age_days: 7\n    nat_max_age_days: 9\n", 4,
     "nat_max_age_days", 3),
])
def test_a_key_given_twice_is_refused_with_file_line_and_key(tmp_path: Path, text: str,
                                                             line: int, key: str,
                                                             first: int) -> None:
    path = tmp_path / "config.yaml"
    assert problems(tmp_path, text) == [
        f"{path}:{line}: duplicate key {key!r} (first at line {first})"]


def test_one_yaml_loader_reads_every_yaml_file() -> None:
    """Only station/yamlfile.py parses YAML, so duplicate keys are refused everywhere."""
    import ast

    parsers = {"load", "safe_load", "load_all", "safe_load_all", "full_load", "unsafe_load"}
    offenders = []
    for package in ("station", "sync", "drivers"):
        for source in sorted((ROOT / package).rglob("*.py")):
            if source == ROOT / "station" / "yamlfile.py":
                continue
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Attribute) and node.attr in parsers
                        and isinstance(node.value, ast.Name) and node.value.id == "yaml"):
                    offenders.append(f"{source.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_relative_paths_are_taken_from_the_config_files_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "token").write_text("t")
    (folder / "config.yaml").write_text(
        "ledger:\n  path: ./var/ledger.db\nbundle:\n  path: bundle.json\n"
        "town:\n  url: http://127.0.0.1:1/\n  token_file: token\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = config.load("../etc/config.yaml")
    assert loaded.ledger.path == str(folder / "var" / "ledger.db")
    assert loaded.bundle.path == str(folder / "bundle.json")
    assert loaded.town.token_file == str(folder / "token")
    absolute = config.validate({"ledger": {"path": "/srv/l.db"}}, "x").with_paths_from(folder)
    assert absolute.ledger.path == "/srv/l.db"


def test_a_missing_token_file_fails_the_check_with_its_absolute_path(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("town:\n  url: http://127.0.0.1:1/\n  token_file: secrets/token\n")
    loaded = config.load(path)  # the gate itself needs no town: loading still works
    with pytest.raises(ConfigError) as info:
        config.check_files(loaded, str(path))
    assert info.value.problems == [
        f"{path}:town.token_file: {tmp_path / 'secrets' / 'token'}: no such file (the town "
        "issues the token with `town-server stations add`)"]
