"""The power-cut filesystem is honest: what was not flushed IS lost, torn writes DO tear, and
SQLite without flushes DOES lose data on it — otherwise the passing power-loss tests would
prove nothing."""

from __future__ import annotations

import os
import queue
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from station.files import atomic_write, make_dirs
from tests.powerloss.harness import ROOT, CacheMount, complete_lines


@pytest.fixture
def mount(fuse: None, tmp_path: Path) -> Iterator[CacheMount]:
    with CacheMount(tmp_path / "disk", tmp_path / "mnt") as mounted:
        yield mounted.start()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(path: Path, data: bytes, *, sync: bool, mode: str = "wb") -> None:
    with open(path, mode) as handle:
        handle.write(data)
        handle.flush()
        if sync:
            os.fsync(handle.fileno())


def reboot(mount: CacheMount, mode: str = "drop", seed: int = 1) -> None:
    mount.crash(mode, seed)
    mount.start()


def test_a_write_without_fsync_is_lost_and_a_flushed_one_kept(mount: CacheMount) -> None:
    path = mount.path("a")
    write(path, b"old" * 1000, sync=True)
    fsync_dir(mount.mountpoint)
    write(path, b"new" * 2000, sync=False)  # rewritten, longer, not flushed
    assert path.read_bytes() == b"new" * 2000  # the running system sees it
    reboot(mount)
    assert path.read_bytes() == b"old" * 1000


def test_a_new_name_needs_its_directory_flushed(mount: CacheMount) -> None:
    write(mount.path("kept"), b"k", sync=True)
    fsync_dir(mount.mountpoint)
    write(mount.path("flushed-but-unnamed"), b"x", sync=True)  # the file, not its directory
    os.rename(mount.path("kept"), mount.path("renamed"))
    os.mkdir(mount.path("dir"))
    reboot(mount)
    assert sorted(os.listdir(mount.mountpoint)) == ["kept"]
    write(mount.path("named"), b"n", sync=True)
    os.unlink(mount.path("kept"))
    fsync_dir(mount.mountpoint)
    reboot(mount)
    assert sorted(os.listdir(mount.mountpoint)) == ["named"]
    assert mount.path("named").read_bytes() == b"n"


def test_make_dirs_survives_a_cut_and_plain_mkdir_does_not(mount: CacheMount) -> None:
    """The fix for a ledger in a new directory (station.files.make_dirs)."""
    make_dirs(mount.path("var/lib/gate"))
    os.makedirs(mount.path("plain/lib"))
    for directory in ("var/lib/gate", "plain/lib"):
        write(mount.path(f"{directory}/f"), b"data", sync=True)
        fsync_dir(mount.path(directory))
    reboot(mount)
    assert mount.path("var/lib/gate/f").read_bytes() == b"data"
    assert not mount.path("plain").exists()


def test_atomic_write_keeps_old_or_new(mount: CacheMount) -> None:
    target = mount.path("conf/bundle.json")
    atomic_write(target, b"1" * 5000)
    reboot(mount, "torn")
    assert target.read_bytes() == b"1" * 5000


def test_torn_mode_keeps_a_random_part_of_the_unflushed_sectors(mount: CacheMount) -> None:
    path = mount.path("f")
    old, new = b"o" * 512 * 64, b"n" * 512 * 64
    write(path, old, sync=True)
    fsync_dir(mount.mountpoint)
    write(path, new, sync=False, mode="r+b")
    reboot(mount, "torn", seed=3)
    data = path.read_bytes()
    sectors = {data[i:i + 512] for i in range(0, len(data), 512)}
    assert sectors == {b"o" * 512, b"n" * 512}  # whole sectors, some old and some new


def test_a_cut_at_a_chosen_call_stops_the_writer_there(fuse: None, tmp_path: Path) -> None:
    mount = CacheMount(tmp_path / "disk", tmp_path / "mnt").start(cut_at="fsync:3")
    script = ("import os, sys\n"
              "for n in range(1, 10):\n"
              "    with open(sys.argv[1], 'wb') as f:\n"
              "        f.write(str(n).encode()); f.flush(); os.fsync(f.fileno())\n"
              "    if n == 1:\n"
              "        d = os.open(os.path.dirname(sys.argv[1]), os.O_RDONLY); os.fsync(d)\n"
              "    print(n, flush=True)\n")
    writer = subprocess.Popen([sys.executable, "-c", script, str(mount.path("n"))],
                              stdout=subprocess.PIPE, text=True)
    assert mount.wait_frozen(30)
    assert mount.frozen_at == "fsync#3"
    mount.cut("drop", 1, writer)
    assert writer.stdout is not None
    assert writer.stdout.read().split() == ["1", "2"]  # blocked in its third fsync
    mount.start()
    try:
        assert mount.path("n").read_bytes() == b"2"
    finally:
        mount.stop()


SQLITE_WRITER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = " + sys.argv[2])
conn.execute("PRAGMA synchronous = " + sys.argv[3])
conn.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, pad BLOB)")
n = conn.execute("SELECT coalesce(max(n), 0) FROM t").fetchone()[0]
while True:
    n += 1
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t VALUES (?, randomblob(3000))", (n,))
    conn.execute("UPDATE t SET pad = randomblob(3000) WHERE n > ? AND n % 3 = 0", (n - 30,))
    conn.execute("COMMIT")
    print(n, flush=True)
"""


def sqlite_cuts(tmp: Path, journal: str, synchronous: str, cuts: int) -> list[str]:
    """Cut a committing SQLite writer `cuts` times (torn); what went wrong each time."""
    mount = CacheMount(tmp / "disk", tmp / "mnt")
    rng = random.Random(5)
    found = []
    for _ in range(cuts):
        mount.start()
        with open(tmp / "out", "w") as out:
            writer = subprocess.Popen([sys.executable, "-c", SQLITE_WRITER, str(mount.path(
                "db")), journal, synchronous], cwd=ROOT, stdout=out, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 1.0))
        mount.cut("torn", rng.randrange(2**32), writer)
        printed = [int(line) for line in complete_lines((tmp / "out").read_text())]
        mount.start()
        conn = sqlite3.connect(mount.path("db"))
        try:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            stored = {n for (n,) in conn.execute("SELECT n FROM t")} if integrity == "ok" \
                else set()
        except sqlite3.DatabaseError as error:
            integrity, stored = str(error), set()
        finally:
            conn.close()
            mount.stop()
        if integrity != "ok":
            found.append(f"corrupt: {integrity}")
            break
        lost = [n for n in printed if n not in stored]
        if lost:
            found.append(f"lost {len(lost)} committed rows")
            break
    return found


def test_sqlite_without_flushes_loses_committed_rows(fuse: None, tmp_path: Path) -> None:
    assert sqlite_cuts(tmp_path, "DELETE", "OFF", 4)


def test_sqlite_wal_full_keeps_every_committed_row(fuse: None, tmp_path: Path) -> None:
    """The control for the test above: the same writer with the ledger's settings."""
    assert sqlite_cuts(tmp_path, "WAL", "FULL", 4) == []


class LateEof(CacheMount):
    """A mount whose output reader reports its process's end late, as a descheduled thread
    on a loaded machine does: each process's "<eof>" is held back until the next cachefs
    has been started (at most 10 s)."""

    held: ClassVar[list[threading.Event]] = []

    @staticmethod
    def _read(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
        for release in LateEof.held:  # a new cachefs runs: let the last one's "<eof>" go
            release.set()
        LateEof.held.clear()
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        release = threading.Event()
        LateEof.held.append(release)
        release.wait(10)
        lines.put("<eof>")


def test_a_late_eof_of_the_last_mount_is_not_read_by_the_next(fuse: None,
                                                              tmp_path: Path) -> None:
    """The cause of the two "losses" once seen: a late "<eof>" of the previous cachefs was
    read as the next one's answer ("ready", "crashed"), so `start` could return before the
    mount was up and the writer or the check ran on the bare mountpoint. Each process now
    has its own queue: here the "<eof>"s arrive during the next mount's life, unread."""
    mount = LateEof(tmp_path / "disk", tmp_path / "mnt")
    for number in range(3):
        mount.start()
        assert os.path.ismount(mount.mountpoint)
        write(mount.path("f"), str(number).encode(), sync=True)
        fsync_dir(mount.mountpoint)
        mount.crash("drop", number)
    mount.start()
    try:
        assert mount.path("f").read_bytes() == b"2"
    finally:
        mount.stop()


def test_start_fails_when_cachefs_exits_or_the_mountpoint_is_not_bare(fuse: None,
                                                                       tmp_path: Path) -> None:
    (tmp_path / "disk").mkdir()
    os.symlink("elsewhere", tmp_path / "disk" / "link")  # cachefs refuses to model it
    with pytest.raises(RuntimeError, match="cachefs exited"):
        CacheMount(tmp_path / "disk", tmp_path / "mnt").start()
    (tmp_path / "disk" / "link").unlink()
    (tmp_path / "mnt" / "stray").write_bytes(b"written while nothing was mounted")
    with pytest.raises(RuntimeError, match="with nothing mounted"):
        CacheMount(tmp_path / "disk", tmp_path / "mnt").start()
