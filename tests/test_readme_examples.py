"""README's officer examples work exactly as printed right after `make demo` (issue 15).

The demo's steps are read from the Makefile's `demo:` recipe and the examples from README's
"The safety officer's commands" block, so neither can drift from what a new user types. They
run in a scratch copy of the files the demo needs (config.yaml, scenarios/), with the
package's commands on PATH, as a person would run them from the project folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def demo_steps() -> list[str]:
    """The shell commands of the Makefile's `demo:` recipe, continuation lines joined."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert recipe, "Makefile has no demo: recipe"
    # a leading @ only tells make not to echo the line
    return [line.strip().removeprefix("@").replace("$(BIN)/", "")
            for line in recipe.group(1).splitlines()]


def officer_examples() -> list[str]:
    """The command lines of README's officer block (comment-only lines dropped)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The safety officer's commands", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "README's officer section has no sh block"
    return [line for line in block.group(1).splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_readme_officer_examples_run_as_printed_after_the_demo(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "GATE_STATION_DRIVERS": "fake"}  # as the Makefile exports it

    def sh(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)

    for step in demo_steps():
        done = sh(step)
        assert done.returncode == 0, f"{step}\n{done.stderr}"

    examples = officer_examples()
    assert len(examples) >= 5
    outputs, errors = {}, {}
    for example in examples:
        done = sh(example)
        assert done.returncode == 0, f"{example}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        outputs[example], errors[example] = done.stdout, done.stderr

    # and each shows something real from the demo's day, not an empty table
    denied = next(out for ex, out in outputs.items() if "--denied" in ex)
    assert len(denied.splitlines()) > 5 and "拒绝" in denied
    subject = next(out for ex, out in outputs.items() if "--subject" in ex)
    assert subject and all(json.loads(line)["subject"] == "W0000062"
                           for line in subject.splitlines())
    fevers = (tmp_path / "fevers.csv").read_text(encoding="utf-8-sig")
    assert len(fevers.splitlines()) > 2
    register = (tmp_path / "register.csv").read_text(encoding="utf-8-sig")
    assert len(register.splitlines()) > 250
    assert json.loads((tmp_path / "register.json").read_text())["day"] == "2021-02-22"
    stats = next(out for ex, out in outputs.items() if "stats" in ex and "--json" not in ex)
    assert "2021-02-22" in stats and "300" not in stats.splitlines()[0]
    stats_json = json.loads(next(out for ex, out in outputs.items()
                                 if "stats" in ex and "--json" in ex))
    assert [row["day"] for row in stats_json["per_day"]] == ["2021-02-22"]
    assert stats_json["per_day"][0]["entries"] > 250
    assert len((tmp_path / "stats.csv").read_text(encoding="utf-8-sig").splitlines()) == 2
    # without --until, the last 7 days (long after 2021) are empty: the window ends on the
    # demo's day, and a note says so
    plain = next(ex for ex in outputs if "stats" in ex and "--until" not in ex)
    assert "2021-02-22" in outputs[plain] and "2021-02-22" in errors[plain]
    assert outputs[plain] == stats  # the same as with --until 2021-02-22
