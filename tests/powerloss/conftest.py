"""Power-loss tests need a working FUSE mount: skipped with the reason where there is none,
and failed instead under CI (CI=true), where a missing FUSE must not pass silently."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.powerloss.harness import fuse_problem


@pytest.fixture(scope="session")
def fuse() -> None:
    problem = fuse_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"power-loss tests cannot run under CI: {problem}")
    pytest.skip(f"power-loss tests need FUSE: {problem}")


@pytest.fixture
def cuts(request: pytest.FixtureRequest) -> Callable[[int], int]:
    """How many cuts a test makes: `--powerloss-cuts N` (or $POWERLOSS_CUTS), else the
    test's own default (the quick run CI makes)."""
    chosen = request.config.getoption("--powerloss-cuts") or os.environ.get("POWERLOSS_CUTS")

    def number(default: int) -> int:
        return int(chosen) if chosen else default

    return number


@pytest.fixture(autouse=True)
def no_mount_left_behind(tmp_path: Path) -> Iterator[None]:
    """A test that fails half-way may leave its cachefs mounted: unmount whatever is still
    mounted under its folder, so one failure does not leave mounts (and processes) behind."""
    yield
    with open("/proc/mounts", encoding="utf-8") as mounts:
        left = [line.split()[1] for line in mounts if line.startswith("cachefs ")]
    for mountpoint in left:
        if mountpoint.startswith(str(tmp_path)):
            subprocess.run(["fusermount3", "-u", "-z", mountpoint], capture_output=True,
                           timeout=30)
