"""Every command's output in both locales, with no text in the other script (issue 15).

Under `en` no CJK character may appear except in data (a person's masked name such as 张*).
Under `zh_CN` no English word may appear except what is not language: reason codes, ids and
codes (W0000201, HL-JX-001, THP1:…), file paths, command-line options, units, and a device's
own technical message, which the station quotes in [square brackets] as the device gave it.
Every sentence comes from the message catalogue (station/messages.py); the last test checks
that the catalogue itself has both languages for every entry.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.messages import REASON_MESSAGES, TEXTS, WORDS

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "GATE_STATION_DRIVERS": "fake"}
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
MASKED_NAME = re.compile(r"[\u3400-\u9fff]\*")
NOT_LANGUAGE = [
    re.compile(r"\bTHP1:.*"),                       # codes (Base45 has spaces): to the end
    re.compile(r"\[[^\]]*\]"),                      # a device's own message, quoted
    re.compile(r"\S*/\S*"),                         # paths, URLs
    re.compile(r"--[a-z][\w-]*"),                   # options
    re.compile(r"\b[A-Z]{1,3}[\w-]*\d[\w-]*"),      # ids: W0000201, HL-JX-001
    re.compile(r"\d{4}-\d\d-\d\dT[\d:.+]+"),        # ISO times
    re.compile(r"°C"),
    # in errors: a value quoted as the file has it, a config key (dotted, or before its
    # colon), the program's name
    re.compile(r"\bgate-station\b"),
    re.compile(r"'[^']*'"),
    re.compile(r"\b[a-z_]+(\.[a-z_\d]+)+"),
    re.compile(r"\b[a-z_]+(?=[:：])"),
]
ALLOWED_WORDS = set(REASON_MESSAGES) | {"GPIO", "QR", "ISO", "YAML", "JSON", "UTF"}
ENTERPRISE = {"zh_CN": "红炉机械厂", "en": "Honglu Works"}  # data, in each locale's script


def leaks(output: str, locale: str) -> list[str]:
    if locale == "en":
        return CJK.findall(MASKED_NAME.sub("", output))
    for pattern in NOT_LANGUAGE:
        output = pattern.sub(" ", output)
    words = re.findall(r"[A-Za-z][A-Za-z-]*[A-Za-z]|[A-Za-z]", output)
    return [w for w in words if w not in ALLOWED_WORDS]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    base = tmp_path_factory.mktemp("language")
    made = subprocess.run([sys.executable, "-c", "from sync.town.cli import main; main()",
                           "keys", "new", "--out", str(base / "keys")], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    (key,) = (base / "keys").glob("*.key")
    (base / "trust.json").write_text('{"keys": [' + made.stdout + '], "revocations": '
                                     '[{"sub": "W0000009", "before": 1612137600}]}')
    codes = {}
    for sub in ("W0000001", "W0000009"):
        codes[sub] = subprocess.run(
            [sys.executable, "-c", "from sync.town.cli import main; main()", "issue-code",
             "--key", str(key), "--sub", sub, "--name", "张*", "--color", "green", "--nat",
             "2021-01-29", "--returned", "2021-01-30:outside-municipality", "--org",
             "HL-JX-001", "--at", "2021-02-01T07:00:00+08:00", "--png",
             str(base / f"{sub}.png")], capture_output=True, text=True, cwd=ROOT,
            timeout=60).stdout.strip()
    import cv2
    import numpy as np

    cv2.imwrite(str(base / "blank.png"), np.full((120, 120), 255, dtype=np.uint8))
    for locale in ("zh_CN", "en"):
        (base / f"{locale}.yaml").write_text(
            f"station:\n  locale: {locale}\n  enterprise: {ENTERPRISE[locale]}\ndrivers: fake\n"
            f"ledger:\n  path: {base}/{locale}-station.db\nbundle:\n  path: {base}/b.json\n")
    yield {"base": str(base), "trust": str(base / "trust.json"),
           "valid": codes["W0000001"], "revoked": codes["W0000009"]}


def commands(place: dict[str, str], locale: str) -> list[list[str]]:
    base, config = place["base"], ["--config", f"{place['base']}/{locale}.yaml"]
    ledger = ["--ledger", f"{base}/{locale}-sim.db"]
    at = ["--at", "2021-02-01T09:00:00+08:00", "--trust", place["trust"]]
    return [
        ["simulate", str(ROOT / "scenarios/faults.yaml"), *config, *ledger],
        ["simulate", str(ROOT / "scenarios/seed-returning.yaml"), *config, *ledger],
        ["simulate", str(ROOT / "scenarios/morning-shift.yaml"), *config, *ledger],
        ["check-config", *config],
        ["selftest", *config],
        ["selftest", "--relay", *config],
        ["decode", f"{base}/W0000001.png", *config],
        ["decode", f"{base}/blank.png", *config],
        ["verify-code", place["valid"], *at, *config],
        ["verify-code", "--file", f"{base}/W0000001.png", *at, *config],
        ["verify-code", place["revoked"], *at, *config],
        ["verify-code", "THP1:AB", *at, *config],
        ["log", *config, *ledger],
        ["log", "--date", "2021-02-22", "--denied", *config, *ledger],
        ["report", "daily", "--date", "2021-02-22", *config, *ledger, "--csv",
         f"{base}/{locale}.csv"],
        ["report", "daily", "--date", "2021-02-01", *config, *ledger],
        ["stats", "--until", "2021-02-22", "--days", "30", *config, *ledger],
        ["stats", "--until", "1999-01-01", *config, *ledger],
        ["relay-off", *config],
    ]


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_command_speaks_only_its_locale(setup: dict[str, str], locale: str) -> None:
    found: dict[str, list[str]] = {}
    for command in commands(setup, locale):
        done = subprocess.run([sys.executable, "-c", "from station.cli import main; main()",
                               *command], cwd=ROOT, env=ENV, capture_output=True, text=True,
                              timeout=300)
        assert "Traceback" not in done.stderr, done.stderr
        output = done.stdout + done.stderr
        assert output.strip(), command
        bad = leaks(output, locale)
        if bad:
            found[" ".join(command[:2])] = sorted(set(bad))[:12]
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_the_leak_check_catches_both_scripts() -> None:
    assert leaks("seq  time  reasons；", "en") == ["；"]
    assert leaks("张*  W0000001  fever", "en") == []
    assert leaks("体温 37.7 fever alarm", "zh_CN") == ["alarm"]  # `fever` is a reason code
    assert leaks("测温仪故障 [MLX90614 read: I/O error]  W0000001 --relay °C", "zh_CN") == []
    assert leaks("c.yaml:policy.fever_threshold_c: 须为 'camera' 或 'serial'", "zh_CN") == []
    assert leaks("c.yaml:station.id: must be text", "zh_CN") == ["must", "be", "text"]


def test_the_catalogue_has_both_languages_for_every_entry() -> None:
    for table in (TEXTS, REASON_MESSAGES, WORDS):
        for key, (zh, en) in table.items():
            assert zh and en, key
            assert not CJK.search(en), (key, en)
            if key not in ("word.unit_c", "word.none", "selftest.celsius",
                           "selftest.emissivity", "problem.line", "problem.where",
                           "refused.bundle_key", "sync.fault"):
                assert CJK.search(zh), (key, zh)


# Errors a person reads (issue 15): config problems, YAML, ledger, files, scenarios, sync.
# Each case: the config's text after `station:\n  locale: X\n`, the command, and the
# machine-readable part that must stay as it is in both locales.
ERROR_CASES: dict[str, tuple[str, list[str], str]] = {
    "bad value": ("policy:\n  fever_threshold_c: 45\n", ["check-config"],
                  "policy.fever_threshold_c"),
    "bad choice": ("scanner:\n  type: laser\n", ["check-config"], "scanner.type"),
    "not a number": ("thermometer:\n  samples: many\n", ["check-config"],
                     "thermometer.samples"),
    "validator": ("town:\n  url: ftp://town.example/\n", ["check-config"], "town.url"),
    "unknown key": ("  colour: red\n", ["check-config"], "station.colour"),
    "missing key": ("outputs:\n  door_contact: {{}}\n", ["check-config"],
                    "outputs.door_contact.pin"),
    "duplicate key": ("drivers: fake\ndrivers: real\n", ["check-config"], "'drivers'"),
    "missing ledger": ("drivers: fake\n", ["log", "--ledger", "{base}/none.db"], "none.db"),
    "unreadable file": ("drivers: fake\n", ["verify-code", "THP1:AB", "--trust",
                                            "{base}/no-trust.json"], "no-trust.json"),
    "bad scenario": ("drivers: fake\n", ["simulate", "{base}/bad-scenario.yaml"],
                     "bad-scenario.yaml"),
    "no town": ("drivers: fake\nledger:\n  path: {base}/l.db\n", ["sync", "--once"],
                "town.url"),
}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_every_common_error_speaks_only_its_locale(tmp_path: Path, locale: str,
                                                   case: str) -> None:
    rest, command, machine = ERROR_CASES[case]
    base = str(tmp_path)
    (tmp_path / "bad-scenario.yaml").write_text(
        "start: '2021-02-01T07:30:00+08:00'\nevents:\n  - at: soon\n    temperature: 36\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"station:\n  locale: {locale}\n" + rest.format(base=base))
    done = subprocess.run([sys.executable, "-c", "from station.cli import main; main()",
                           *[part.format(base=base) for part in command], "--config",
                           str(config)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output, output
    assert machine in output, output
    assert leaks(output, locale) == [], output
    if locale == "zh_CN":
        assert CJK.search(done.stderr), output  # said in Chinese, not only in codes


def test_an_unreadable_config_speaks_the_default_locale(tmp_path: Path) -> None:
    """No config to take the locale from: zh_CN, the default."""
    done = subprocess.run([sys.executable, "-c", "from station.cli import main; main()",
                           "check-config", "--config", str(tmp_path / "none.yaml")],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "none.yaml" in done.stderr
    assert leaks(done.stderr, "zh_CN") == [] and CJK.search(done.stderr), done.stderr


def config_error_types() -> set[str]:
    """Every pydantic error type the config models can raise, read from their core schema:
    each schema node kind and constraint maps to the error types it produces."""
    from station.config import Config

    Config.model_rebuild()
    found: set[str] = set()
    kinds = {
        "int": {"int_type", "int_parsing"}, "float": {"float_type", "float_parsing"},
        "bool": {"bool_type", "bool_parsing"}, "str": {"string_type"},
        "literal": {"literal_error"}, "list": {"list_type"}, "tuple": {"tuple_type"},
        "dict": {"dict_type"}, "model-fields": {"model_type"}, "date": {"date_type"},
        "datetime": {"datetime_type"}, "time": {"time_type"}, "enum": {"enum"},
        "function-after": {"value_error"}, "function-before": {"value_error"},
        "function-plain": {"value_error"}, "function-wrap": {"value_error"},
        "model": {"model_type"},
    }
    constraints = {"ge": "greater_than_equal", "gt": "greater_than", "le": "less_than_equal",
                   "lt": "less_than"}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            kind = node.get("type")
            if isinstance(kind, str):
                found.update(kinds.get(kind, set()))
                if kind == "str":
                    found.update({"string_too_short"} if "min_length" in node else set())
                    found.update({"string_too_long"} if "max_length" in node else set())
                    found.update({"string_pattern_mismatch"} if "pattern" in node else set())
                elif kind in ("list", "tuple"):
                    found.update({"too_short"} if "min_length" in node else set())
                    found.update({"too_long"} if "max_length" in node else set())
                elif kind == "model-fields":
                    found.add("missing")
                    if node.get("extra_behavior") == "forbid":
                        found.add("extra_forbidden")
                found.update(constraints[key] for key in constraints if key in node)
            if node.get("extra_fields_behavior") == "forbid":  # a model's config
                found.add("extra_forbidden")
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)

    walk(Config.__pydantic_core_schema__)
    return found


def test_every_pydantic_error_of_the_config_models_is_in_the_catalogue() -> None:
    from station.problems import PYDANTIC_TYPES

    used = config_error_types()
    assert {"missing", "extra_forbidden", "less_than_equal", "literal_error"} <= used
    assert used - PYDANTIC_TYPES == set()
    for kind in PYDANTIC_TYPES:
        assert f"pydantic.{kind}" in TEXTS, kind


def test_a_config_problem_is_english_as_str_and_chinese_in_zh() -> None:
    from station.config import validate
    from station.errors import ConfigError, localize

    with pytest.raises(ConfigError) as raised:
        validate({"policy": {"fever_threshold_c": 45.0}, "station": {"colour": 1}}, "c.yaml")
    lines = raised.value.problems
    assert lines == ["c.yaml:station.colour: unknown key",
                     "c.yaml:policy.fever_threshold_c: Input should be less than or equal "
                     "to 40"]
    assert [localize(line, "zh_CN") for line in lines] == [
        "c.yaml:station.colour: 未知的键", "c.yaml:policy.fever_threshold_c: 须小于或等于 40"]
