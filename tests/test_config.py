"""config.yaml validation: the shipped example, defaults, and every kind of problem."""

from __future__ import annotations

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
