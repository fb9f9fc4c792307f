"""Driving the power-cut filesystem (cachefs.py) from tests: mount, cut, crash, remount.

`CacheMount(backing, mountpoint)` runs `python -m tests.powerloss.cachefs` as a subprocess
and talks to it over its standard input and output. A cut is always the same three steps:
the filesystem freezes (by command, or by itself at the Nth operation of a kind), the test
SIGKILLs every process that used the mount, and `crash(mode, seed)` rewrites the backing
directory as the power cut leaves it; `start()` then mounts that state again, as a reboot.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MODES = ("drop", "torn")


def fuse_problem() -> str | None:
    """Why a FUSE filesystem cannot be mounted here, or None when it can (as far as can be
    told without mounting: the caller's first mount is the real test)."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist"
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as error:
        return f"/dev/fuse cannot be opened: {error.strerror}"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed (Debian package fuse3)"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as error:
        return f"mfusepy cannot load libfuse 3: {error}"
    return None


class CacheMount:
    """One mount of the power-cut filesystem over `backing` at `mountpoint`."""

    def __init__(self, backing: Path, mountpoint: Path, log: Path | None = None) -> None:
        self.backing = backing
        self.mountpoint = mountpoint
        self.log = log or backing.with_name(backing.name + ".cachefs.log")
        self.process: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.frozen_at: str | None = None
        backing.mkdir(parents=True, exist_ok=True)
        mountpoint.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.mountpoint / name

    def start(self, cut_at: str | None = None, timeout: float = 20.0) -> CacheMount:
        """Mount; with `cut_at` ("fsync:12") the filesystem freezes by itself there.

        Returns only once the mount is up (cachefs said "ready" and the mountpoint is a
        mount). Raises RuntimeError when cachefs exits or stays silent instead, and when
        the bare mountpoint holds files: something wrote there while nothing was mounted,
        and it would be hidden under the mount rather than tested."""
        assert self.process is None, "already mounted"
        if os.path.ismount(self.mountpoint):
            raise RuntimeError(f"{self.mountpoint} is still mounted")
        stray = sorted(entry.name for entry in self.mountpoint.iterdir())
        if stray:
            raise RuntimeError(f"{self.mountpoint} holds {stray} with nothing mounted: a "
                               "process wrote there instead of on the cachefs mount")
        self.frozen_at = None
        # each process gets its own queue: a line the previous process (or its "<eof>")
        # delivers late must never be read as this one's answer
        self.lines = queue.Queue()
        command = [sys.executable, "-m", "tests.powerloss.cachefs", str(self.backing),
                   str(self.mountpoint)]
        if cut_at:
            command += ["--cut-at", cut_at]
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=log, text=True)
        threading.Thread(target=self._read, args=(self.process, self.lines),
                         daemon=True).start()
        line = self._expect(("ready",), timeout)
        if line != "ready" or not os.path.ismount(self.mountpoint):
            self._abandon()
            why = "exited" if line == "<eof>" else f"did not mount in {timeout} s"
            raise RuntimeError(f"cachefs {why}; see {self.log}: "
                               f"{self.log.read_text()[-2000:]}")
        return self

    @staticmethod
    def _read(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
        """Copy one process's output lines into its own queue, then "<eof>"."""
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put("<eof>")

    def _expect(self, prefixes: tuple[str, ...], timeout: float) -> str | None:
        """The next line starting with one of `prefixes` (noting freezes on the way)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line.startswith("frozen "):
                self.frozen_at = line.split(" ", 1)[1]
            if line.startswith("error "):
                raise RuntimeError(f"cachefs: {line}")
            if line == "<eof>" or line.startswith(prefixes):
                return line

    def _send(self, command: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def wait_frozen(self, timeout: float) -> bool:
        """True once the filesystem froze by itself (`cut_at` reached)."""
        if self.frozen_at is None:
            self._expect(("frozen ",), timeout)
        return self.frozen_at is not None

    def freeze(self) -> None:
        """Cut the power now (if the filesystem has not frozen by itself already)."""
        if self.frozen_at is None:
            self._send("freeze")
            if self._expect(("frozen ",), 20) is None:
                raise RuntimeError("cachefs did not freeze")

    def stats(self) -> dict[str, int]:
        self._send("stats")
        line = self._expect(("stats ",), 20)
        assert line is not None and line.startswith("stats "), line
        return dict(json.loads(line.split(" ", 1)[1]))

    def cut(self, mode: str, seed: int, *users: subprocess.Popen[Any]) -> dict[str, Any]:
        """The power cut: freeze, SIGKILL every process using the mount, write the state the
        cut leaves (`crash`), and reap the processes.

        The order matters: a process blocked in a FUSE request that the filesystem has read
        cannot die until the request is answered, which happens when the filesystem exits;
        the SIGKILL sent before guarantees it runs no code after its request fails."""
        self.freeze()
        for process in users:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
        tally = self.crash(mode, seed)
        for process in users:
            process.wait(timeout=30)
        return tally

    def crash(self, mode: str, seed: int) -> dict[str, Any]:
        """After a freeze and the kill of every user: write the cut state, detach the mount."""
        self.freeze()
        self._send(f"crash {mode} {seed}")
        line = self._expect(("crashed",), 60)
        assert self.process is not None
        self.process.wait(timeout=30)
        self.process = None
        self._detach()
        if line is None or not line.startswith("crashed "):
            raise RuntimeError(f"cachefs crash failed; see {self.log}")
        return dict(json.loads(line.split(" ", 1)[1]))

    def stop(self) -> None:
        """A clean unmount (everything written is kept)."""
        if self.process is None:
            return
        subprocess.run(["fusermount3", "-u", str(self.mountpoint)], capture_output=True,
                       timeout=30)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._abandon()
        self.process = None

    def _abandon(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        self._detach()

    def _detach(self) -> None:
        subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)], capture_output=True,
                       timeout=30)

    def __enter__(self) -> CacheMount:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None and self.frozen_at is not None:
            self._abandon()
        else:
            self.stop()


def complete_lines(text: str) -> list[str]:
    """The lines a killed process finished printing (a line cut short never was)."""
    return [line for line in text.splitlines(keepends=True) if line.endswith("\n")]
