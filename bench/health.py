"""Station health history (schema 5) for a district: 500 stations with a day of heartbeat
slots (72,000 rows, one per station per 10 minutes), on SQLite and on PostgreSQL (a
throwaway cluster, tests/pgkit.py, fsync on): the cost of one heartbeat (its station row and
its slot, one transaction), the office's health page and a station page for that day, and
the table's size on disk per day.

    python bench/health.py [--stations 500] [--beats 300] [--runs 5] [--engines sqlite,pg]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from station.clock import CST  # noqa: E402
from sync.town import store as store_module  # noqa: E402
from sync.town.app import create_app  # noqa: E402
from sync.town.db import create_database  # noqa: E402
from sync.town.store import SqlTownStore  # noqa: E402
from tests.pgkit import PgCluster  # noqa: E402

DAY = dt.date(2021, 2, 22)


def load_day(store: SqlTownStore, stations: int) -> None:
    """Every station's 144 slots of DAY, written directly (a minute's beats each)."""
    rows = []
    for n in range(stations):
        for slot in range(144):
            at = dt.datetime.combine(DAY, dt.time(slot // 6, slot % 6 * 10), CST)
            rows.append((f"s{n:04d}", at.isoformat()[:16], DAY.isoformat(),
                         at.isoformat(timespec="seconds"),
                         (at + dt.timedelta(minutes=9)).isoformat(timespec="seconds"), 10,
                         slot % 7, slot % 3, json.dumps(["camera"] if slot % 50 == 0 else [])))
    with store.db.transaction() as tx:
        tx.driver_many("INSERT INTO stations (id, enterprise, token_hash, created) VALUES "
                       "(?, ?, ?, ?)", [(f"s{n:04d}", f"E{n % 60}", f"h{n}", "2021-02-01")
                                        for n in range(stations)])
        tx.driver_many("INSERT INTO heartbeats (station, slot, day, first_at, last_at, beats, "
                       "backlog_max, backlog_last, faults) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       rows)


def timed(call: Any, runs: int) -> tuple[float, float]:
    first = time.perf_counter()
    call()
    first = time.perf_counter() - first
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def bench(engine: str, where: str, stations: int, beats: int, runs: int) -> None:
    store = SqlTownStore(where)
    load_day(store, stations)
    beat = {"time": "2021-02-22T12:00:00+08:00", "clock_synced": True, "version": "0.3.0",
            "backlog": 3, "faults": ["camera"], "bundle_version": None}
    latencies = []
    for n in range(beats):
        at = dt.datetime.combine(DAY, dt.time(12), CST) + dt.timedelta(seconds=n)
        store_module.now_cst = lambda at=at: at  # type: ignore[misc]
        start = time.perf_counter()
        store.heartbeat(f"s{n % stations:04d}", beat)
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    _, token = store.new_admin_token("bench")
    client = TestClient(create_app(store))
    client.get("/")
    client.post("/login", data={"token": token, "csrf": client.cookies["town_login"]})
    health = timed(lambda: client.get(f"/office/health?date={DAY}").raise_for_status(), runs)
    station = timed(lambda: client.get(f"/office/station/s0001?date={DAY}")
                    .raise_for_status(), runs)
    if engine == "sqlite":
        size = store.db.query("SELECT SUM(pgsize) AS n FROM dbstat WHERE name IN "
                              "('heartbeats', 'heartbeats_day', "
                              "'sqlite_autoindex_heartbeats_1')", {})[0]["n"]
    else:
        size = store.db.query("SELECT pg_total_relation_size('heartbeats') AS n", {})[0]["n"]
    print(f"{engine}: heartbeat p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
          f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms; health page "
          f"{health[0]:.2f} s first, {health[1]:.2f} s then; station page {station[0]:.2f} s "
          f"first, {station[1]:.2f} s then; heartbeats table {size / 1e6:.1f} MB for "
          f"{stations * 144:,} slots (one day)")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--beats", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="sqlite,pg")
    options = parser.parse_args()
    for engine in options.engines.split(","):
        with tempfile.TemporaryDirectory() as folder:
            if engine == "sqlite":
                create_database(Path(folder) / "town.db")
                bench(engine, str(Path(folder) / "town.db"), options.stations, options.beats,
                      options.runs)
            elif engine == "pg":
                cluster = PgCluster().start(durable=True)
                try:
                    bench("postgresql", cluster.new_database(), options.stations,
                          options.beats, options.runs)
                finally:
                    cluster.stop()
            else:
                sys.exit(f"health.py: unknown engine {engine!r} (sqlite, pg)")


if __name__ == "__main__":
    main()
