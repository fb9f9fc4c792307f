"""A power cut under the town server never loses a record it had acknowledged.

`town-server serve` runs with its SQLite database on the power-cut filesystem; a station
(the test) pushes batches through the HTTP API and remembers the highest `acked_through`
answered. Cut at a random instant or at the Nth write/fsync; after the reboot the server
starts on what the cut left and its admin API must list every acknowledged record,
identical (same event id at the same seq). Driven only through the `town-server` CLI and
HTTP, so the test does not depend on where the store's code lives.
"""

from __future__ import annotations

import datetime as dt
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from station.clock import CST
from station.ledger import Record
from sync.client import entry_json
from tests.powerloss.harness import MODES, ROOT, CacheMount
from tests.townkit import free_port, wait_for_port

# the installed `town-server` entry point: independent of where the town's modules live
TOWN = [str(Path(sys.executable).parent / "town-server")]
EPOCH = "0b7c2a55-6a43-4c1e-9d0e-3f6f1d2f7a10"


def records(count: int) -> list[dict[str, Any]]:
    base = dt.datetime(2021, 2, 22, 7, 0, tzinfo=CST)
    out = []
    for seq in range(1, count + 1):
        when = base + dt.timedelta(seconds=seq * 3)
        out.append(entry_json(Record(
            kind="entry", time=when.isoformat(timespec="milliseconds"),
            day=when.date().isoformat(), clock_synced=True, boot_id="boot-1",
            boottime_ns=seq, direction="in", subject=f"W{seq:07d}", name="张*",
            issuer="500118", color="green", temperature_c=36.5, readings=(36.5,),
            decision="admit", event_id=f"00000000-0000-4000-8000-{seq:012d}", seq=seq)))
    return out


def serve(db: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    process, port = start_server(db, log)
    wait_for_port(port)
    return process, f"http://127.0.0.1:{port}"


def start_server(db: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen([*TOWN, "serve", "--db", str(db), "--port", str(port),
                                    "--log-level", "warning"], cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT)
    return process, port


def serve_unless_cut(db: Path, log: Path, mount: CacheMount, timeout: float = 20.0
                     ) -> tuple[subprocess.Popen[bytes], str | None]:
    """The server and its URL; None for the URL when the power went (the mount froze at its
    `cut_at`) while the server was still starting: a cut during start-up (opening the
    database, recovering its write-ahead log), which the loop cuts as it is."""
    process, port = start_server(db, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            if mount.wait_frozen(0.05):
                return process, None
    process.kill()
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} and the mount not frozen")


def new_town(mount: CacheMount, db: Path) -> tuple[str, str]:
    """A town database on the mount with station gate-a: (its token, an admin token). The
    mount is left stopped."""
    mount.start()
    subprocess.run([*TOWN, "db", "init", "--db", str(db)], cwd=ROOT, capture_output=True,
                   check=True)
    token = subprocess.run([*TOWN, "stations", "add", "gate-a", "--enterprise", "E", "--db",
                            str(db)], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.strip()
    admin = subprocess.run([*TOWN, "admin-token", "new", "--db", str(db)], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    mount.stop()
    return token, admin


def after_reboot(mount: CacheMount, db: Path, log: Path, admin: str
                 ) -> tuple[dict[int, str], str]:
    """The "reboot" after a cut: mount what the cut left, start the server on it, and give
    (the stored seqs of the epoch with their event ids, `PRAGMA integrity_check`)."""
    mount.start()
    server, url = serve(db, log)
    try:
        seqs = stored_seqs(url, admin)
        conn = sqlite3.connect(db)
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        conn.close()
    finally:
        server.terminate()
        server.wait(30)
        mount.stop()
    return seqs, integrity


def stored_seqs(url: str, admin: str) -> dict[int, str]:
    seqs: dict[int, str] = {}
    after = 0
    with httpx.Client(headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
        while True:
            page = client.get(f"{url}/api/v1/entries", params={
                "station": "gate-a", "after": after, "limit": 10000}).json()
            for entry in page["entries"]:
                if entry["epoch"] == EPOCH:
                    seqs[entry["seq"]] = entry["event_id"]
            if not page["next_after"]:
                return seqs
            after = page["next_after"]


class Station(threading.Thread):
    """Pushes batches from `acked + 1` until stopped; keeps the highest ack answered."""

    def __init__(self, url: str, token: str, entries: list[dict[str, Any]], acked: int):
        super().__init__(daemon=True)
        self.url, self.token, self.entries, self.acked = url, token, entries, acked
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {self.token}"},
                          timeout=2) as client:
            while not self.stop.is_set() and self.acked < len(self.entries):
                batch = self.entries[self.acked:self.acked + 25]
                try:
                    answer = client.post(
                        f"{self.url}/api/v1/stations/gate-a/entries",
                        json={"epoch": EPOCH, "clock": {
                            "wall": "2021-02-22T08:00:00.000+08:00", "synced": True,
                            "boot_id": "boot-1", "boottime_ns": 1}, "entries": batch})
                except httpx.HTTPError:
                    continue  # the power is off: the answer never came
                if answer.status_code == 200:
                    self.acked = max(self.acked, int(answer.json()["acked_through"]))


def test_a_power_cut_under_the_town_loses_no_acked_record(fuse: None, cuts: Any,
                                                          tmp_path: Path) -> None:
    started = time.monotonic()
    mount = CacheMount(tmp_path / "disk", tmp_path / "mnt")
    db, log = mount.path("town.db"), tmp_path / "town.log"
    token, admin = new_town(mount, db)
    total = cuts(8)
    entries = records(max(20000, total * 1500))
    rng = random.Random(31)
    acked, problems, starts_cut = 0, [], 0
    for number in range(total):
        cut_at = f"{rng.choice(('write', 'fsync'))}:{rng.randint(10, 120)}" \
            if rng.random() < 0.5 else None
        mount.start(cut_at=cut_at)
        server, url = serve_unless_cut(db, log, mount)
        station = Station(url, token, entries, acked) if url is not None else None
        if station is not None:
            station.start()
        if cut_at:
            mount.wait_frozen(20)
        else:
            time.sleep(rng.uniform(0.2, 2.0))
        mode = rng.choice(MODES)
        mount.cut(mode, rng.randrange(2**32), server)
        if station is not None:
            station.stop.set()
            station.join(30)
            acked = station.acked
        else:
            starts_cut += 1
        seqs, integrity = after_reboot(mount, db, log, admin)
        missing = [seq for seq in range(1, acked + 1) if seqs.get(seq) is None]
        changed = [seq for seq in range(1, acked + 1)
                   if seq in seqs and seqs[seq] != entries[seq - 1]["event_id"]]
        if integrity != "ok" or missing or changed:
            problems.append(f"cut {number} ({cut_at or 'timed'}, {mode}): integrity "
                            f"{integrity}, {len(missing)} acked missing, {len(changed)} differ")
        if (number + 1) % 25 == 0:  # a soak runs for most of an hour: show it moving (-s)
            print(f"\ntown power cuts: {number + 1} of {total}, {acked} acked, "
                  f"{starts_cut} during start-up, {len(problems)} problems, "
                  f"{time.monotonic() - started:.0f} s", flush=True)
    print(f"\ntown power cuts: {total} cuts ({starts_cut} while the server was starting), "
          f"{acked} records acked, {problems} in {time.monotonic() - started:.0f} s")
    assert problems == []
    assert acked > total * 25  # the station got answers between the cuts


@pytest.mark.parametrize("mode", MODES)
def test_a_power_cut_while_the_town_server_starts_loses_nothing(fuse: None, mode: str,
                                                                 tmp_path: Path) -> None:
    """The power goes while the server opens the database (the mount freezes at its 5th
    write): nothing acked before is lost, and the next start serves the file."""
    mount = CacheMount(tmp_path / "disk", tmp_path / "mnt")
    db, log = mount.path("town.db"), tmp_path / "town.log"
    token, admin = new_town(mount, db)
    mount.start()
    entries = records(600)
    server, url = serve(db, log)
    station = Station(url, token, entries, 0)
    station.start()
    station.join(60)  # stops by itself once all 600 are acked
    server.send_signal(signal.SIGKILL)  # no clean shutdown: the WAL is left to recover
    server.wait(30)
    mount.stop()
    assert station.acked == len(entries)

    mount.start(cut_at="write:5")
    server, started = serve_unless_cut(db, log, mount)
    assert started is None, "the server started before the 5th write: the cut missed start-up"
    mount.cut(mode, 7, server)

    seqs, integrity = after_reboot(mount, db, log, admin)
    assert integrity == "ok"
    assert [seq for seq in range(1, 601) if seqs.get(seq) != entries[seq - 1]["event_id"]] == []
