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
]
ALLOWED_WORDS = set(REASON_MESSAGES) | {"GPIO", "QR"}
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


def test_the_catalogue_has_both_languages_for_every_entry() -> None:
    for table in (TEXTS, REASON_MESSAGES, WORDS):
        for key, (zh, en) in table.items():
            assert zh and en, key
            assert not CJK.search(en), (key, en)
            if key not in ("word.unit_c", "word.none", "selftest.celsius",
                           "selftest.emissivity", "problem.line"):
                assert CJK.search(zh), (key, zh)
