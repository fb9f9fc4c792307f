"""Every `gate-station` command with hostile arguments: never a traceback (issue 15).

README promises "errors are one line, never a traceback". Each case below is what a person
really types wrong: a folder that does not exist, a path under a regular file (no one can
create it, root included — the suite runs as root in CI, so permission bits alone would not
stop it), empty files, a folder where a file belongs, dates at the ends of the calendar.
Every command, including any added later, also gets the generic cases (a config under a
regular file, an empty config), so a new command cannot dodge the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from station.cli import main

ROOT = Path(__file__).resolve().parent.parent
ENV = {"GATE_STATION_DRIVERS": "fake"}
# commands that serve until stopped: only the generic cases that must fail at once apply
LONG_RUNNING = {"run", "console"}


def command_names(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    names: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            names += command_names(command, (*prefix, name))
        else:
            names.append((*prefix, name))
    return names


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Hostile paths and files, and one small real (simulated) ledger to read."""
    base = tmp_path_factory.mktemp("hostile")
    regular = base / "a-file"
    regular.write_text("not a folder")
    (base / "empty").write_bytes(b"")
    (base / "garbage").write_bytes(bytes(range(256)) * 4)
    (base / "folder").mkdir()
    # (its paths stay in the scratch folder, should the duplicate ever slip through)
    (base / "dup.yaml").write_text(f"ledger:\n  path: {base}/dup.db\nbundle:\n  path: "
                                   f"{base}/dup.json\nstation:\n  id: a\nstation:\n  id: b\n")
    ledger = base / "sim.db"
    ran = subprocess.run(
        [sys.executable, "-c", "from station.cli import main; main()", "simulate",
         str(ROOT / "scenarios/faults.yaml"), "--config", "config.yaml", "--ledger",
         str(ledger)], cwd=ROOT, env={**os.environ, **ENV}, capture_output=True, text=True,
        timeout=300)
    assert ran.returncode == 0, ran.stderr
    far = base / "far.yaml"
    far.write_text("start: '9999-12-31T23:00:00+08:00'\nevents:\n"
                   "  - at: '+30m'\n    code: {sub: W1, color: green}\n    temperature: 36.5\n"
                   "  - at: '+2h'\n    exit: true\n")
    early = base / "early.yaml"
    early.write_text("start: '0001-01-01T00:00:00+08:00'\nevents:\n"
                     "  - at: '+1s'\n    code: {sub: W1, color: green}\n    temperature: 36.5\n")
    config = base / "config.yaml"
    config.write_text(f"drivers: fake\nledger:\n  path: {ledger}\nbundle:\n  path: "
                      f"{regular}/bundle.json\n")
    bad_console_config = base / "bad-console.yaml"
    bad_console_config.write_text(f"drivers: fake\nledger:\n  path: {ledger}\nconsole:\n"
                                  f"  accounts_path: {regular}/console.db\n")
    bad_ledger_config = base / "bad-ledger.yaml"
    bad_ledger_config.write_text(f"drivers: fake\nledger:\n  path: {regular}/l.db\n")
    town_config = base / "town.yaml"
    town_config.write_text(f"drivers: fake\nledger:\n  path: {ledger}\nbundle:\n  path: "
                           f"{base}/bundle.json\ntown:\n  url: http://127.0.0.1:9/\n"
                           f"  token_file: {base}/empty\n")
    far_code = subprocess.run(
        [sys.executable, "-c", "from sync.town.cli import main; main()", "keys", "new", "--out",
         str(base / "keys")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert far_code.returncode == 0, far_code.stderr
    (key,) = (base / "keys").glob("*.key")
    issued = subprocess.run(
        [sys.executable, "-c", "from sync.town.cli import main; main()", "issue-code", "--key",
         str(key), "--sub", "W1", "--color", "green", "--at", "9999-12-31T20:00:00+08:00"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert issued.returncode == 0, issued.stderr
    (base / "trust.json").write_text('{"keys": [' + far_code.stdout + "]}")
    yield {"base": str(base), "under_file": f"{regular}/sub", "missing": f"{base}/no/such",
           "empty": str(base / "empty"), "garbage": str(base / "garbage"),
           "folder": str(base / "folder"), "dup": str(base / "dup.yaml"),
           "ledger": str(ledger), "config": str(config), "far": str(far), "early": str(early),
           "bad_ledger_config": str(bad_ledger_config),
           "bad_console_config": str(bad_console_config), "town_config": str(town_config),
           "far_code": issued.stdout.strip(), "trust": str(base / "trust.json")}


def cases() -> list[tuple[str, ...]]:
    """Command-specific hostile argument lists; `{name}` is filled from `place`."""
    c = ("--config", "{config}")
    return [
        ("check-config", "--config", "{empty}"),
        ("check-config", "--config", "{garbage}"),
        ("check-config", "--config", "{dup}"),
        ("check-config", "--config", "{folder}"),
        ("check-config", "--config", "{town_config}"),
        ("selftest", "--config", "{dup}"),
        ("decode", *c, "{empty}"),
        ("decode", *c, "{garbage}"),
        ("decode", *c, "{folder}"),
        ("decode", *c, "{under_file}/x.png"),
        ("verify-code", *c, ""),
        ("verify-code", *c, "THP1:"),
        ("verify-code", *c, "--file", "{empty}"),
        ("verify-code", *c, "--file", "{under_file}/x.png"),
        ("verify-code", *c, "THP1:AB", "--trust", "{under_file}/t.json"),
        ("verify-code", *c, "THP1:AB", "--trust", "{empty}"),
        ("verify-code", *c, "THP1:AB", "--trust", "{garbage}"),
        ("verify-code", *c, "THP1:AB"),  # the bundle path lies under a regular file
        ("verify-code", *c, "{far_code}", "--trust", "{trust}"),
        ("verify-code", *c, "{far_code}", "--trust", "{trust}", "--at",
         "9999-12-31T20:00:00+08:00"),
        ("verify-code", *c, "{far_code}", "--trust", "{trust}", "--at",
         "0001-01-01T00:00:00+08:00"),
        ("verify-code", *c, "{far_code}", "--trust", "{trust}", "--at",
         "9999-12-31T23:59:59-12:00"),
        ("simulate", *c, "{empty}"),
        ("simulate", *c, "{garbage}"),
        ("simulate", *c, "{folder}"),
        ("simulate", *c, "{under_file}/s.yaml"),
        ("simulate", *c, "{far}"),
        ("simulate", *c, "{early}"),
        ("simulate", *c, str(ROOT / "scenarios/faults.yaml"), "--ledger", "{under_file}/l.db"),
        ("simulate", *c, str(ROOT / "scenarios/faults.yaml"), "--ledger", "{empty}"),
        ("simulate", *c, str(ROOT / "scenarios/faults.yaml"), "--ledger", "{garbage}"),
        ("simulate", *c, str(ROOT / "scenarios/faults.yaml"), "--ledger", "{ledger}"),
        ("log", *c, "--ledger", "{under_file}/l.db"),
        ("log", *c, "--ledger", "{empty}"),
        ("log", *c, "--ledger", "{garbage}"),
        ("log", "--config", "{bad_ledger_config}"),
        ("log", *c, "--from", "0001-01-01T00:00:00+08:00"),
        ("log", *c, "--to", "9999-12-31T23:59:59-12:00"),
        ("log", *c, "--from", "yesterday"),
        ("log", *c, "--date", "0001-01-01"),
        ("log", *c, "--date", "9999-12-31", "--format", "csv"),
        ("report", "daily", *c, "--date", "9999-12-31"),
        ("report", "daily", *c, "--date", "0001-01-01", "--json"),
        ("report", "daily", *c, "--date", "2021-02-22", "--csv", "{under_file}/r.csv"),
        ("report", "daily", *c, "--date", "2021-02-22", "--csv", "{missing}/r.csv"),
        ("report", "daily", *c, "--date", "2021-02-22", "--csv", "{folder}"),
        ("report", "daily", *c, "--ledger", "{empty}"),
        ("report", "vehicles", *c, "--date", "2021-02-30"),
        ("report", "vehicles", *c, "--date", "2021-02-22", "--xlsx", "{missing}/v.xlsx"),
        ("report", "vehicles", *c, "--date", "2021-02-22", "--csv", "{folder}"),
        ("report", "visitors", *c, "--date", "9999-12-31", "--json"),
        ("report", "visitors", *c, "--ledger", "{empty}"),
        ("stats", *c, "--until", "0001-01-01"),
        ("stats", *c, "--until", "9999-12-31", "--days", "3660", "--json"),
        ("stats", *c, "--until", "2021-02-22", "--csv", "{under_file}/s.csv"),
        ("stats", *c, "--until", "2021-02-22", "--csv", "{missing}/s.csv"),
        ("stats", *c, "--ledger", "{garbage}"),
        ("sync", "--once", "--config", "{town_config}"),
        ("sync", "--once", "--config", "{bad_ledger_config}"),
        ("relay-off", "--config", "{garbage}"),
        ("run", "--config", "{dup}"),
        ("run", "--config", "{missing}/config.yaml"),
        ("console", "--config", "{bad_console_config}", "--listen", "127.0.0.1:0"),
        ("console", *c, "--listen", "not-an-address"),
        ("console", "user", "add", "guard1", "--role", "guard", *c, "--password-stdin"),
        ("console", "user", "add", "", "--role", "officer", *c, "--password-stdin"),
        ("console", "user", "add", "x" * 200, "--role", "chief", *c),
        ("console", "user", "list", "--config", "{bad_console_config}"),
        ("console", "user", "disable", "nobody", *c),
        ("console", "user", "disable", "nobody", "--config", "{bad_console_config}"),
    ]


def generic_cases() -> list[tuple[str, ...]]:
    found = []
    for name in command_names():
        found.append((*name, "--config", "{under_file}/config.yaml"))
        found.append((*name, "--config", "{dup}"))
        if name[-1] not in LONG_RUNNING:
            found.append((*name, "--config", "{empty}"))
    return found


def invoke(args: tuple[str, ...], place: dict[str, str]) -> tuple[int, str, BaseException | None]:
    filled = [arg.format(**place) for arg in args]
    if args[0] in LONG_RUNNING:  # in a process of its own, so a regression cannot hang here
        done = subprocess.run([sys.executable, "-c", "from station.cli import main; main()",
                               *filled], cwd=place["base"], env={**os.environ, **ENV},
                              capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout + done.stderr, None
    result = CliRunner(env=ENV).invoke(main, filled, catch_exceptions=True)
    error = result.exception
    if isinstance(error, SystemExit):
        error = None
    text = result.stdout + result.stderr
    if error is not None:
        text += "".join(traceback.format_exception(error))
    return result.exit_code, text, error


@pytest.mark.parametrize("args", cases() + generic_cases(), ids=lambda a: " ".join(a))
def test_no_traceback(args: tuple[str, ...], place: dict[str, str],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(place["base"])  # no ./config.yaml here: only what the case gives
    _code, text, error = invoke(args, place)
    assert error is None, text
    assert "Traceback" not in text


def test_every_command_has_its_own_hostile_cases() -> None:
    covered = {tuple(a for a in case if not a.startswith("-"))[:3] for case in cases()}
    missing = [" ".join(name) for name in command_names()
               if not any(tuple(c[:len(name)]) == name for c in covered)]
    assert missing == [], f"add hostile cases for: {missing}"


def test_the_reported_cases_give_one_line(place: dict[str, str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The ones issue 15 names: a clear line each, non-zero exit."""
    monkeypatch.chdir(place["base"])
    for args, expected in [
        (("report", "daily", "--config", "{config}", "--date", "2021-02-22", "--csv",
          "{missing}/r.csv"), "：无法写入：所在文件夹不存在"),
        (("stats", "--config", "{config}", "--until", "0001-01-01"), "0001-01-01"),
        (("report", "daily", "--config", "{config}", "--date", "9999-12-31"), "9999-12-31"),
        (("log", "--config", "{config}", "--from", "0001-01-01T00:00:00+08:00"), "序号"),
        (("verify-code", "--config", "{config}", "{far_code}", "--trust", "{trust}", "--at",
          "9999-12-31T20:00:00+08:00"), "有效"),
    ]:
        code, text, error = invoke(args, place)
        assert error is None and expected in text, text
        if "无法写入" in expected:
            assert code == 1 and text.strip().count("\n") == 0, text
