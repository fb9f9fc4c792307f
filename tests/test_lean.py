"""Start-up and memory: what each command may import, and the shortcuts behind a fast start
(README, "Start-up and memory"). The import checks run the real command in a fresh
interpreter and look at `sys.modules` when it has finished, so an import that moves back to
module level (or a new dependency of the officer path) fails here, not in a benchmark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from station import config
from station.ledger import Ledger, Record

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "GATE_STATION_DRIVERS": "fake"}

# Libraries the officer's commands (log, report, stats, check-config) must never load: the
# camera and decoder stack, the HTTP/web stack, and the health-code crypto.
NOT_FOR_OFFICERS = ("numpy", "cv2", "zxingcpp", "pyzbar", "httpx", "fastapi", "uvicorn",
                    "starlette", "cryptography", "cbor2")
CAMERA_STACK = ("numpy", "cv2", "zxingcpp", "pyzbar")

RUN_COMMAND = """
import json, sys
from station.cli import main
try:
    main()
except SystemExit as end:
    status = end.code
else:
    status = 0
print("\\nPROBE " + json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def loaded_by(code: str, *args: str) -> tuple[Any, set[str]]:
    """Run `code` (which prints a PROBE line) in a fresh interpreter: (its status, the
    top-level packages it had imported)."""
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=120)
    probe = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert probe, result.stdout + result.stderr
    found = json.loads(probe[-1].removeprefix("PROBE "))
    return found["status"], {name.split(".")[0] for name in found["modules"]}


@pytest.fixture(scope="module")
def officer_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config whose ledger holds a day with an admitted entry, a fever denial and its alarm,
    and a returning worker whose day-7 test is due."""
    folder = tmp_path_factory.mktemp("officer")
    ledger = Ledger(folder / "ledger.db")
    common: dict[str, Any] = {"day": "2021-02-20", "clock_synced": True, "direction": "in",
                              "issuer": "500118", "color": "green"}
    ledger.append(
        Record(kind="entry", time="2021-02-20T07:30:00.000+08:00", subject="W0000001",
               name="张*", temperature_c=36.5, decision="admit", **common),
        Record(kind="entry", time="2021-02-20T07:31:00.000+08:00", subject="W0000002",
               temperature_c=38.1, decision="deny", reasons=("fever",), **common),
        Record(kind="alarm", time="2021-02-20T07:31:00.000+08:00", subject="W0000002",
               temperature_c=38.1, decision="deny", reasons=("fever",), **common),
        Record(kind="entry", time="2021-02-20T07:32:00.000+08:00", subject="W0000003",
               temperature_c=36.6, decision="admit", returned="2021-02-13",
               origin="outside-municipality", nat="2021-02-10", **common),
    )
    ledger.close()
    path = folder / "config.yaml"
    path.write_text(f"drivers: fake\nledger:\n  path: {folder / 'ledger.db'}\n"
                    f"bundle:\n  path: {folder / 'bundle.json'}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [
    ["check-config"],
    ["log", "--date", "2021-02-20"],
    ["log", "--fever", "--format", "json"],
    ["report", "daily", "--date", "2021-02-20"],
    ["stats", "--until", "2021-02-20"],
], ids=lambda command: " ".join(command))
def test_officer_commands_load_no_camera_web_or_crypto_library(
        officer_config: Path, command: list[str]) -> None:
    status, loaded = loaded_by(RUN_COMMAND, *command, "--config", str(officer_config))
    assert status == 0
    assert "station" in loaded and "pydantic" in loaded  # the probe ran the real command
    if command != ["check-config"]:
        assert "sqlite3" in loaded  # … which read the ledger
    assert sorted(loaded.intersection(NOT_FOR_OFFICERS)) == []


def test_the_daily_report_really_ran_in_the_probe(officer_config: Path) -> None:
    """The probe's command is the real one: its output is the register, due test included."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_COMMAND, "report", "daily", "--date", "2021-02-20",
         "--config", str(officer_config)], cwd=ROOT, env=ENV, capture_output=True, text=True,
        timeout=120)
    assert "W0000001" in result.stdout and "W0000003" in result.stdout
    assert "2021-02-20" in result.stdout


BUILD_SCANNER = """
import json, sys
from station import config, hardware
settings = config.validate({"drivers": "fake", "scanner": SCANNER}, "(test)")
fakes = hardware.Fakes()
scanner = hardware.build_scanner(settings, fakes)
if fakes.camera is not None:
    fakes.camera.show_text("THP1:probe")
    assert scanner.scan(0) == "THP1:probe"
    fakes.camera.show_nothing()
    assert scanner.scan(0) is None
scanner.close()
print("PROBE " + json.dumps({"status": 0, "modules": sorted(sys.modules)}))
"""


def test_a_serial_station_loads_neither_numpy_nor_a_qr_decoder() -> None:
    _, loaded = loaded_by(BUILD_SCANNER.replace("SCANNER", '{"type": "serial"}'))
    assert "serial" in loaded
    assert sorted(loaded.intersection(CAMERA_STACK)) == []


def test_the_camera_path_loads_no_web_stack() -> None:
    """The camera needs numpy, OpenCV (capture, and the decoder chain's rescue steps) and the
    decoders; nothing of the HTTP side belongs in the gate's scanner."""
    _, loaded = loaded_by(BUILD_SCANNER.replace("SCANNER", '{"decoders": ["zxing"]}'))
    assert {"numpy", "zxingcpp"} <= loaded
    assert sorted(loaded.intersection({"httpx", "fastapi", "uvicorn", "starlette"})) == []


def test_the_sync_client_loads_no_camera_library() -> None:
    code = ("import json, sys, sync.client\n"
            "print('PROBE ' + json.dumps({'status': 0, 'modules': sorted(sys.modules)}))")
    _, loaded = loaded_by(code)
    assert sorted(loaded.intersection(CAMERA_STACK)) == []


def sections_with_default_factories() -> list[tuple[str, Any]]:
    found = []
    for model in (config.Config, config.ThermometerSettings, config.ScannerSettings,
                  config.OutputSettings, config.PolicySettings):
        for name, field in model.model_fields.items():
            if field.default_factory is not None:
                found.append((f"{model.__name__}.{name}",
                              field.get_default(call_default_factory=True)))
    return found


def test_every_section_default_equals_the_validated_section() -> None:
    """The defaults made without validation (`model_construct`, config._default) are exactly
    what validating an empty section gives."""
    defaults = sections_with_default_factories()
    assert len(defaults) == 16
    for where, default in defaults:
        assert isinstance(default, BaseModel), where
        assert default == type(default).model_validate({}), where
    assert config.validate({}, "(defaults)") == config.Config.model_validate(
        {name: {} for name in ("station", "thermometer", "scanner", "outputs", "policy",
                               "ledger", "bundle", "town", "handover", "console")})


PLUGIN_PROBE = """
import json, os, sys
import station.config as c
c.load(sys.argv[1])
from pydantic.plugin import _loader
print("PROBE " + json.dumps({"status": os.environ.get("PYDANTIC_DISABLE_PLUGINS"),
                              "modules": ["searched"] if _loader._plugins is not None else []}))
"""


def test_loading_the_config_does_not_search_for_pydantic_plugins(officer_config: Path) -> None:
    """pydantic reads every installed package's metadata looking for plugins the first time a
    model validates, unless PYDANTIC_DISABLE_PLUGINS says none: station.config says so."""
    setting, searched = loaded_by(PLUGIN_PROBE, str(officer_config))
    assert setting == "__all__"
    assert searched == set()


BROKEN_YAML = ["station: [1, 2\n", "a: b: c\n", "station:\n\tid: x\n", "'a\n", "{",
               "station: {id: gate-02\n", "x: !!python/object:os.system ls\n",
               "key: *nothing\n", "station:\n  enterprise: \"\\x\"\n", "- a\nb: c\n"]


@pytest.mark.parametrize("text", BROKEN_YAML)
def test_yaml_errors_are_the_pure_python_loaders(text: str) -> None:
    """libyaml parses first; what is reported for a broken text is PyYAML's own wording."""
    from station import yamlfile

    with pytest.raises(yamlfile.YamlError) as fast:
        yamlfile.load_yaml_text(text, "f.yaml")
    with pytest.raises(yaml.YAMLError) as slow:
        yaml.load(text, Loader=yamlfile._StrictLoader)
    problem = getattr(slow.value, "problem", None) or str(slow.value).splitlines()[0]
    assert str(fast.value).startswith("f.yaml") and problem in str(fast.value)


def test_libyaml_and_pyyaml_read_the_shipped_config_alike() -> None:
    from station import yamlfile

    assert yamlfile._FastStrictLoader is not None  # PyYAML built with libyaml here
    for path in (ROOT / "config.yaml", *sorted((ROOT / "scenarios").glob("*.yaml"))):
        text = path.read_text(encoding="utf-8")
        assert yamlfile.load_yaml_text(text, str(path)) == yaml.safe_load(text), path
