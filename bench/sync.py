"""Sync benchmarks over loopback against a real `town-server` process (issue targets):

  drain    `gate-station sync --once` drains a 100,000-record backlog  [≤ 10 s, issue 16]
  ingest   50 stations pushing batches of 200 at once, SQLite  [≥ 20,000 records/s, issue 16]

The machine is shared: run each a few times and report the median, with the load average.

    python bench/sync.py [drain ingest] [--records 100000] [--stations 50] [--batches 20]
                         [--varied]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from sync.town.store import SqliteTownStore  # noqa: E402
from tests.townkit import (  # noqa: E402
    TownProcess,
    fill_ledger,
    init_town_db,
    station_setup,
)


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used so far (Linux /proc)."""
    return sum(cpu_split(pid))


def peak_rss_mb(pid: int) -> float:
    """A running process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_drain(records: int, workdir: Path) -> None:
    store = SqliteTownStore(init_town_db(workdir / "drain.db"))
    token = store.add_station("gate-a", "bench")
    store.close()
    station = workdir / "station"
    station.mkdir()
    started = time.perf_counter()
    fill_ledger(station / "ledger.db", records, alarms_every=200, recent=True)
    print(f"drain: made a {records:,}-record backlog in {time.perf_counter() - started:.1f} s")
    town = TownProcess(workdir / "drain.db").start()
    try:
        config = station_setup(station, town.url, token, timeout_s=30)
        assert town.process is not None
        town_cpu, sync_cpu = cpu_seconds(town.process.pid), children_cpu()
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", "from station.cli import main; main()",
                                 "sync", "--once", "--config", str(config)], cwd=ROOT,
                                capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        # CPU seconds say what the wall time would be on an idle machine (the two processes
        # mostly take turns), whatever else shares the machine
        town_cpu = cpu_seconds(town.process.pid) - town_cpu
        sync_cpu = children_cpu() - sync_cpu
    finally:
        town.stop()
    if result.returncode:
        raise SystemExit(result.stderr[-2000:])
    store = SqliteTownStore(workdir / "drain.db")
    (status,) = store.stations()
    acked = max(status.epochs.values())
    store.close()
    print(f"drain: {records:,} records to the town in {elapsed:.1f} s wall "
          f"({records / elapsed:,.0f} records/s, process start included); acked_through {acked}"
          f"; CPU: sync --once {sync_cpu:.1f} s, town-server {town_cpu:.1f} s, "
          f"load average {os.getloadavg()[0]:.1f}")


def bench_ingest(stations: int, batches: int, workdir: Path, vary: bool = False) -> None:
    store = SqliteTownStore(init_town_db(workdir / "ingest.db"))
    tokens = [store.add_station(f"gate-{i:02d}", f"enterprise {i % 7}") for i in range(stations)]
    store.close()
    town = TownProcess(workdir / "ingest.db").start()
    template = {"kind": "entry", "time": "2021-02-01T07:30:05.412+08:00",
                "clock_synced": True, "boot_id": "b", "direction": "in", "subject": "W0012345",
                "name": "张*", "issuer": "500118", "color": "green", "temperature_c": 36.5,
                "ambient_c": 21.8, "readings": [36.5], "decision": "admit", "reasons": []}

    rng = random.Random(16)

    def varied(seq: int) -> dict[str, Any]:
        """A record of a day at a gate: its own time (every record later than the last, in
        the hours of a shift) and one of 3,000 workers, so that indexes by time and by
        subject take each record where it falls, as in a district, not at their end."""
        if not vary:
            return {}
        second = 6 * 3600 + seq * 50_000 // (batches * 200)
        return {"time": f"2021-02-01T{second // 3600:02d}:{second // 60 % 60:02d}:"
                        f"{second % 60:02d}.{rng.randrange(1000):03d}+08:00",
                "subject": f"W{rng.randrange(3000):07d}"}

    def bodies(index: int) -> list[bytes]:
        epoch = str(uuid.uuid4())
        out = []
        for batch in range(batches):
            entries = [{**template, "seq": batch * 200 + n + 1, "event_id": str(uuid.uuid4()),
                        "boottime_ns": batch * 200 + n, **varied(batch * 200 + n + 1)}
                       for n in range(200)]
            out.append(json.dumps({"epoch": epoch, "clock": {"boot_id": "b", "synced": True,
                                                             "boottime_ns": 10**12},
                                   "entries": entries}).encode())
        return out

    prepared = [bodies(i) for i in range(stations)]
    failures: list[int] = []
    barrier = threading.Barrier(stations + 1)

    def push(index: int) -> None:
        url = f"{town.url}/api/v1/stations/gate-{index:02d}/entries"
        with httpx.Client(headers={"Authorization": f"Bearer {tokens[index]}",
                                   "Content-Type": "application/json"}, timeout=120) as client:
            barrier.wait()
            for body in prepared[index]:
                response = client.post(url, content=body)
                if response.status_code != 200:
                    failures.append(response.status_code)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(stations)]
    try:
        for thread in threads:
            thread.start()
        assert town.process is not None
        user, system = cpu_split(town.process.pid)
        client = time.process_time()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        client = time.process_time() - client  # this process: the 50 stations' HTTP clients
        after = cpu_split(town.process.pid)
        user, system = after[0] - user, after[1] - system
        peak_mb = peak_rss_mb(town.process.pid)
    finally:
        town.stop()
    total = stations * batches * 200
    town_cpu = user + system
    # records per CPU second of the server says what one core would do on an idle machine,
    # whatever else shares this one: 20,000 records/s is 50 µs of CPU a record
    print(f"ingest{' (--varied)' if vary else ''}: {stations} stations × {batches} batches of "
          f"200 = {total:,} records in "
          f"{elapsed:.1f} s: {total / elapsed:,.0f} records/s "
          f"({len(failures)} non-200 answers: {sorted(set(failures))}); town-server CPU "
          f"{town_cpu:.1f} s (user {user:.1f}, system {system:.1f}): "
          f"{town_cpu / total * 1e6:.0f} µs a record, {total / town_cpu:,.0f} records per CPU "
          f"second; peak RSS {peak_mb:.0f} MB; the stations' clients used {client:.1f} CPU s; "
          f"load average {os.getloadavg()[0]:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", default=["drain", "ingest"])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--varied", action="store_true",
                        help="ingest: every record its own time and one of 3,000 subjects "
                             "(default: one template record, so indexes grow at their end)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sync-bench-") as scratch:
        workdir = Path(scratch)
        for which in args.which:
            if which == "drain":
                bench_drain(args.records, workdir)
            elif which == "ingest":
                bench_ingest(args.stations, args.batches, workdir, args.varied)
            else:
                parser.error(f"unknown benchmark {which!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
