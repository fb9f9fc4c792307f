"""How fast the town office console's pages answer on a large town database:
`python bench/office.py [--records N] [--stations S] [--days D] [--db PATH] [--index]`.

Fills a new SQLite town database (or reuses `--db` if it already holds records) with N
records from S stations over D days (entries with some denials, fever alarms with acks,
returning workers' codes), then times each page through the app (TestClient, logged in),
the first load (closed days not yet read) and the median of the next runs (closed days
reused for 10 minutes, today read afresh: what the office sees all day). `--index` adds
the index the subject trace would want (`records (subject, day)`) to show what it
changes; the schema itself has none.

The rows are written with one executemany per day (a benchmark fill, not the sync path:
ingest has its own benchmark), in the shape ingest stores them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/sync.py must not hide the `sync` package

from fastapi.testclient import TestClient  # noqa: E402

from station.clock import CST, cst_date  # noqa: E402
from sync.town.app import create_app  # noqa: E402
from sync.town.db import create_database  # noqa: E402
from sync.town.store import SqliteTownStore  # noqa: E402


def fill(store: SqliteTownStore, records: int, stations: int, days: int, last: dt.date) -> None:
    rng = random.Random(1)
    names = [f"st-{n:04d}" for n in range(stations)]
    for n, name in enumerate(names):
        store.add_station(name, f"企业{n // 2:03d}", "bench")
    store.set_rule("returning.window", [(last - dt.timedelta(days=60)).isoformat(),
                                        last.isoformat()], "bench")
    epochs = {name: str(uuid.uuid4()) for name in names}
    seqs = dict.fromkeys(names, 0)
    per_day = records // days
    workers = max(per_day // stations, 1)
    for offset in range(days):
        day = last - dt.timedelta(days=days - 1 - offset)
        rows: list[tuple[Any, ...]] = []
        for i in range(per_day):
            station = names[i % stations]
            seqs[station] += 1
            seq = seqs[station]
            person = (i // stations) % workers
            subject = f"W{i % stations:04d}{person:04d}"
            at = dt.datetime.combine(day, dt.time(7), dt.timezone(dt.timedelta(hours=8))) + \
                dt.timedelta(seconds=20 * person)
            kind, temp = "entry", 36.5
            decision: str | None = "admit"
            reasons: list[str] | None = []
            entry = {"seq": seq, "kind": kind, "subject": subject, "time": at.isoformat()}
            roll = rng.random()
            if roll < 0.002:
                kind, decision, reasons, temp = "alarm", None, None, 38.2
            elif roll < 0.03:
                decision, reasons = "deny", ["color"]
            if person % 50 == 0:
                back = last - dt.timedelta(days=(i % stations) % 20)  # one per worker
                entry.update(returned=back.isoformat(), origin="outside-municipality",
                             nat=(back - dt.timedelta(days=2)).isoformat())
            entry.update(kind=kind, decision=decision, reasons=reasons, temperature_c=temp,
                         direction="in")
            raw = json.dumps(entry, sort_keys=True, separators=(",", ":"))
            rows.append((station, epochs[station], seq, hashlib.sha256(raw.encode()).hexdigest(),
                         (at + dt.timedelta(minutes=1)).isoformat(), str(uuid.uuid4()), kind,
                         at.isoformat(), at.isoformat(), 1, day.isoformat(), subject, "张*",
                         "green", decision, json.dumps(reasons) if reasons is not None else None,
                         temp, raw))
        with store.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO records (station, epoch, seq, digest, received, event_id, kind, "
                "time, corrected_time, clock_synced, day, subject, name, color, decision, "
                "reasons, temperature_c, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?)", rows)
    with store.db.transaction() as conn:
        for station, seq in seqs.items():
            conn.execute("INSERT INTO epochs VALUES (?, ?, ?, ?)",
                         (station, epochs[station], seq, last.isoformat()))
    store.db.query("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--index", action="store_true")
    options = parser.parse_args()
    last = cst_date(dt.datetime.now(CST))  # today is read afresh on every load, as in use
    folder = tempfile.mkdtemp(prefix="office-bench-")
    path = options.db or Path(folder) / "town.db"
    if not path.exists():
        create_database(path)
        store = SqliteTownStore(path)
        started = time.perf_counter()
        fill(store, options.records, options.stations, options.days, last)
        print(f"filled {options.records:,} records from {options.stations} stations over "
              f"{options.days} days in {time.perf_counter() - started:.0f} s ({path})")
    else:
        store = SqliteTownStore(path)
    if options.index:
        with store.db.transaction() as conn:
            conn.execute("CREATE INDEX IF NOT EXISTS bench_subject ON records (subject, day)")
    _, token = store.new_admin_token("bench", "bench")
    client = TestClient(create_app(store))
    client.get("/")
    client.post("/login", data={"token": token, "csrf": client.cookies["town_login"]})
    day, week = last.isoformat(), (last - dt.timedelta(days=13)).isoformat()
    pages = {
        "overview (day + 14-day trend)": f"/office?date={day}",
        "enterprise (drill-down)": f"/office/enterprise?name=企业007&date={day}",
        "station (health + records)": f"/office/station/st-0014?date={day}",
        "subject trace, 14 days": f"/office/trace?subject=W00140003&from={week}&to={day}",
        "returning workers": f"/office/returning?date={day}",
        "fever alarms, 14 days": f"/office/alarms?from={week}&to={day}",
        "station health, 14 days": f"/office/health?date={day}",
    }
    print(f"{'page':32} {'first ms':>9} {'then median':>12} {'max':>6}")
    for name, url in pages.items():
        times = []
        for _ in range(options.runs + 1):
            started = time.perf_counter()
            answer = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, (url, answer.status_code)
        first, rest = times[0], sorted(times[1:])
        print(f"{name:32} {first:9.0f} {statistics.median(rest):12.0f} {rest[-1]:6.0f}")
    store.close()


if __name__ == "__main__":
    main()
