"""Nothing lost, nothing doubled: the sync path under faults, kills and a town outage.

Everything runs on loopback: a real `town-server` process, a fault-injecting proxy in front
of it, and real `gate-station sync` processes killed with SIGKILL at random instants. Each
test runs on SQLite (one server process) and on PostgreSQL with `--workers 2`, where server
workers are killed with SIGKILL too (uvicorn starts a new one).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from station.ledger import Ledger
from sync.client import entry_json
from sync.town.records import canonical
from sync.town.store import SqliteTownStore
from tests.pgkit import new_town_db
from tests.townkit import (
    ROOT,
    ChaosProxy,
    Faults,
    TownProcess,
    fill_ledger,
    station_setup,
    town_cli,
)

RECORDS = int(os.environ.get("GATE_CHAOS_RECORDS", "10000"))
KILLS = int(os.environ.get("GATE_CHAOS_KILLS", "200"))
SYNC = [sys.executable, "-c", "from station.cli import main; main()", "sync"]
WORKER_KILL_EVERY = 10  # station kills between two server-worker kills (--workers 2)
pytestmark = pytest.mark.usefixtures("town_engine")  # on SQLite and PostgreSQL


def start_town(tmp_path: Path, engine: str) -> TownProcess:
    """A town server on a new database: SQLite with one process, PostgreSQL with two."""
    return TownProcess(new_town_db(tmp_path / "town.db"), log=tmp_path / "town.log",
                       workers=2 if engine == "postgresql" else 1)


def kill_a_worker(town: TownProcess) -> bool:
    """SIGKILL one server worker (of `--workers 2`); False when none is running (uvicorn
    is between a death and the restart)."""
    pids = town.worker_pids()
    if not pids:
        return False
    os.kill(random.choice(pids), signal.SIGKILL)
    return True


def assert_exactly_once(town_db: Path | str, ledger_path: Path, count: int) -> None:
    """The town holds seq 1..count of the epoch once each, with the station's content, and
    the station's ledger marks every record synced."""
    import hashlib

    store = SqliteTownStore(town_db)
    with Ledger(ledger_path) as ledger:
        epoch = ledger.epoch
        local = {r.seq: r for r in ledger.all_records()}
        unsynced = ledger.backlog()
    stored = store.epoch_records("gate-a", epoch)
    store.close()
    seqs = [seq for seq, _ in stored]
    assert len(seqs) == len(set(seqs)), "a record is stored twice"
    assert seqs == list(range(1, count + 1)), (
        f"missing: {sorted(set(range(1, count + 1)) - set(seqs))[:10]}")
    for seq, digest in stored:
        record = local[seq]
        assert digest == hashlib.sha256(canonical(entry_json(record)).encode()).hexdigest()
    assert unsynced == 0, f"{unsynced} records not marked synced"


def test_10000_records_200_kills_and_a_faulty_network(tmp_path: Path,
                                                      town_engine: str) -> None:
    town = start_town(tmp_path, town_engine).start()
    token = town_cli("stations", "add", "gate-a", "--enterprise", "x", "--db", str(town.db))
    faults = Faults(drop_after_commit=0.10, reset=0.05, error_500=0.05, busy_503=0.04,
                    busy_503_bare=0.03, stall=0.03, stall_s=3.0, seed=11)
    station = tmp_path / "station"
    station.mkdir()
    rng = random.Random(7)
    try:
        with ChaosProxy(town.port, faults) as proxy:
            config = station_setup(station, proxy.url, token)
            fill_ledger(station / "ledger.db", RECORDS, alarms_every=97, recent=True)
            killed = workers_killed = 0
            # PostgreSQL with two workers: half the station kills (CI time), and a server
            # worker killed every WORKER_KILL_EVERY of them
            kills = KILLS if town.workers == 1 else KILLS // 2
            for attempt in range(kills):
                if town.workers > 1 and attempt % WORKER_KILL_EVERY == WORKER_KILL_EVERY // 2:
                    workers_killed += kill_a_worker(town)
                process = subprocess.Popen([*SYNC, "--config", str(config)], cwd=ROOT,
                                           stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0.15, 0.9))
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
                killed += process.returncode == -signal.SIGKILL
            assert killed >= kills * 0.95
            if town.workers > 1:
                assert workers_killed >= kills // WORKER_KILL_EVERY // 2, workers_killed
                assert len(town.worker_pids()) in (1, 2)  # and uvicorn starts new ones
            # then let one run to the end, still through the faulty network
            final = subprocess.run([*SYNC, "--once", "--config", str(config)], cwd=ROOT,
                                   capture_output=True, text=True, timeout=600)
            assert final.returncode == 0, final.stderr[-2000:]
        print(f"chaos: requests by fault injected: {faults.counts}")
        if sum(faults.counts.values()) >= 400:  # enough requests for every fault to occur
            for kind in ("drop_after_commit", "reset", "error_500", "busy_503", "stall"):
                assert faults.counts.get(kind, 0) > 0, f"no {kind} was injected"
    finally:
        town.stop()
    assert_exactly_once(town.db, station / "ledger.db", RECORDS)


def test_town_down_while_the_backlog_builds_then_a_full_drain(tmp_path: Path,
                                                              town_engine: str) -> None:
    town = start_town(tmp_path, town_engine)
    token = town_cli("stations", "add", "gate-a", "--enterprise", "x", "--db", str(town.db))
    station = tmp_path / "station"
    station.mkdir()
    config = station_setup(station, town.url, token)
    fill_ledger(station / "ledger.db", 1, recent=True)
    sync = subprocess.Popen([*SYNC, "--config", str(config)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    total = 1
    try:
        for _ in range(6):  # the gate keeps writing while the town is unreachable
            time.sleep(0.5)
            fill_ledger(station / "ledger.db", 500, start=total, alarms_every=50, recent=True)
            total += 500
        assert sync.poll() is None  # still running, still retrying
        town.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            store = SqliteTownStore(town.db)
            stored = len(store.epoch_records("gate-a", Ledger(station / "ledger.db").epoch))
            store.close()
            if stored == total:
                break
            time.sleep(0.5)
        time.sleep(1.0)  # let the client mark the last batch
        sync.send_signal(signal.SIGTERM)
        _, stderr = sync.communicate(timeout=30)
        assert sync.returncode == 0, stderr[-2000:]
    finally:
        if sync.poll() is None:
            sync.kill()
        town.stop()
    assert_exactly_once(town.db, station / "ledger.db", total)
