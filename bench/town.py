"""Town server benchmarks for a district (issue 12), on this machine (server, database and
load generator sharing its 2 cores):

  ingest   200 stations pushing batches of 200 at once over HTTP, to a real `town-server`:
           PostgreSQL with 1 worker and with 4 workers, SQLite with 1
           [PostgreSQL ≥ 10,000 records/s, SQLite ≥ 20,000 records/s]
  reads    10,000,000 stored records from 500 stations (loaded with COPY, not through
           HTTP): an entries page [p95 ≤ 50 ms], the dashboard [≤ 200 ms], a subject trace
           across stations in a date range [≤ 100 ms]; and bytes per record on disk

PostgreSQL is a throwaway cluster started here (tests/pgkit.py), with fsync on for ingest
(an answered commit is on disk, as SQLite's synchronous=FULL). The machine is shared: run
each a few times and report the median, with the load average.

    python bench/town.py [ingest reads] [--engines pg1,pg4,sqlite1] [--stations 200]
                         [--batches 5] [--records 10000000] [--repeat 50] [--keep DIR]
                         [--proposed-indexes] [--records-when]

`reads --keep DIR` keeps the loaded cluster in DIR (stopped cleanly at the end) and reuses it
on the next run with the same DIR; remove DIR to get rid of it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from sync.town.store import SqlTownStore  # noqa: E402
from tests.pgkit import PgCluster  # noqa: E402
from tests.townkit import TownProcess  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its living descendants (Linux /proc)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total


def postmaster_pid(cluster: PgCluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


# -- ingest ---------------------------------------------------------------------------------


TEMPLATE = {"kind": "entry", "time": "2021-02-01T07:30:05.412+08:00", "clock_synced": True,
            "boot_id": "b", "direction": "in", "subject": "W0012345", "name": "张*",
            "issuer": "500118", "color": "green", "temperature_c": 36.5, "ambient_c": 21.8,
            "readings": [36.5], "decision": "admit", "reasons": []}


def bench_ingest(engine: str, stations: int, batches: int, workdir: Path) -> None:
    """One run: `engine` is pg1, pg4 (PostgreSQL, workers) or sqlite1."""
    workers = int(engine[-1])
    cluster = None
    if engine.startswith("pg"):
        cluster = PgCluster().start(durable=True, settings="-c shared_buffers=256MB")
        db: str = cluster.new_database()
    else:
        from sync.town.db import create_database

        db = str(workdir / f"ingest-{uuid.uuid4().hex[:6]}.db")
        create_database(db)
    store = SqlTownStore(db)
    tokens = [store.add_station(f"gate-{i:03d}", f"enterprise {i % 23}")
              for i in range(stations)]
    store.close()
    town = TownProcess(db, workers=workers, log=workdir / f"{engine}.log").start()

    def bodies() -> list[bytes]:
        epoch = str(uuid.uuid4())
        out = []
        for batch in range(batches):
            entries = [{**TEMPLATE, "seq": batch * 200 + n + 1, "event_id": str(uuid.uuid4()),
                        "boottime_ns": batch * 200 + n} for n in range(200)]
            out.append(json.dumps({"epoch": epoch, "clock": {"boot_id": "b", "synced": True,
                                                             "boottime_ns": 10**12},
                                   "entries": entries}).encode())
        return out

    prepared = [bodies() for _ in range(stations)]
    failures: list[int] = []
    barrier = threading.Barrier(stations + 1)

    def push(index: int) -> None:
        url = f"{town.url}/api/v1/stations/gate-{index:03d}/entries"
        with httpx.Client(headers={"Authorization": f"Bearer {tokens[index]}",
                                   "Content-Type": "application/json"}, timeout=300) as client:
            barrier.wait()
            for body in prepared[index]:
                for _ in range(20):
                    response = client.post(url, content=body)
                    if response.status_code == 200:
                        break
                    failures.append(response.status_code)  # 429/503: retried, as a station
                    time.sleep(0.5)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(stations)]
    try:
        time.sleep(2 if workers > 1 else 0.5)  # the workers' start-up is not ingest
        for thread in threads:
            thread.start()
        assert town.process is not None
        town_cpu = tree_cpu(town.process.pid)
        db_cpu = tree_cpu(postmaster_pid(cluster)) if cluster else 0.0
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        town_cpu = tree_cpu(town.process.pid) - town_cpu
        db_cpu = (tree_cpu(postmaster_pid(cluster)) if cluster else 0.0) - db_cpu
    finally:
        town.stop()
        check = SqlTownStore(db)
        stored = check.db.query("SELECT count(*) AS n FROM records")[0]["n"]
        check.close()
        if cluster is not None:
            cluster.stop()
    total = stations * batches * 200
    assert stored == total, f"{stored} stored of {total}"
    label = {"pg1": "PostgreSQL, 1 worker", "pg4": "PostgreSQL, 4 workers",
             "sqlite1": "SQLite, 1 worker"}.get(engine, engine)
    print(f"ingest {label}: {stations} stations × {batches} batches of 200 = {total:,} "
          f"records in {elapsed:.1f} s: {total / elapsed:,.0f} records/s ({len(failures)} "
          f"retried answers {sorted(set(failures))}); CPU: town-server {town_cpu:.1f} s, "
          f"database {db_cpu:.1f} s; load average {os.getloadavg()[0]:.1f}", flush=True)


# -- reads on a big database --------------------------------------------------------------

COLUMNS = ("station", "epoch", "seq", "digest", "quarantined", "received", "event_id", "kind",
           "time", "corrected_time", "clock_synced", "day", "subject", "name", "color",
           "decision", "reasons", "temperature_c", "raw", "device", "ref_event_id",
           "simulated", "purged")
SECONDARY = ("records_kind", "records_station", "records_day", "records_ack",
             "records_subject", "records_when", "records_alarm", "records_acked",
             "records_day_kind")


def indexes() -> list[str]:
    """The secondary indexes as the migrations up to schema 4 make them on PostgreSQL, less
    `records_when` (schema 7 dropped it; `set_proposed` makes it for `--records-when`)."""
    from sync.town.migrations.versions import r0002, r0003, r0004

    found = [line.strip().rstrip(";") for script in (r0002.POSTGRESQL, r0003.SCRIPT)
             for line in script.splitlines() if line.startswith("CREATE INDEX")]
    return [i for i in (*found, *r0004.POSTGRESQL) if not i.startswith("CREATE INDEX "
                                                                       "records_when ")]


def synthetic_rows(records: int, stations: int, days: int, first_day: dt.date
                   ) -> Any:
    """`records` records of `stations` stations (23 enterprises), spread over `days` days,
    in arrival order: entries (workers of the station's enterprise, and 1 in 50 from another
    enterprise, for traces), exits, fever alarms with acks for half, faults, vehicles,
    visitors."""
    rng = random.Random(12)
    per_station_day = max(1, records // (stations * days))
    epochs = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(stations)]
    seqs = [0] * stations
    produced = 0
    for day_index in range(days):
        day = first_day + dt.timedelta(days=day_index)
        for station in range(stations):
            enterprise = station % 23
            count = min(per_station_day, records - produced)
            if count <= 0:
                return
            for n in range(count):
                seqs[station] += 1
                seq = seqs[station]
                second = 6 * 3600 + n * (50_000 // per_station_day)
                when = (f"{day.isoformat()}T{second // 3600:02d}:{second // 60 % 60:02d}:"
                        f"{second % 60:02d}.000+08:00")
                roll = rng.random()
                worker = rng.randrange(400)
                home = enterprise if rng.random() > 0.02 else rng.randrange(23)
                subject = f"W{home:02d}{worker:05d}"
                kind, decision, temp, device, ref = "entry", "admit", 36.5, None, None
                if roll < 0.004:
                    kind, decision, temp = "alarm", "deny", 38.2
                elif roll < 0.006:
                    kind, ref, decision, temp = "ack", f"s{station}-{seq - 1}", None, None
                elif roll < 0.02:
                    kind, decision = "exit", None
                elif roll < 0.025:
                    kind, decision, subject, temp, device = "fault", None, None, None, \
                        "thermometer"
                elif roll < 0.03:
                    kind, decision, temp = "vehicle", None, None
                elif roll < 0.035:
                    kind, decision = "visitor", None
                elif roll < 0.045:
                    decision = "deny"
                raw = (f'{{"seq":{seq},"event_id":"s{station}-{seq}","kind":"{kind}",'
                       f'"time":"{when}","clock_synced":true,"boot_id":"b",'
                       f'"boottime_ns":{seq},"direction":"in",'
                       f'"subject":{json.dumps(subject)},"name":"张*","issuer":"500118",'
                       f'"color":"green","temperature_c":{json.dumps(temp)},'
                       f'"ambient_c":21.8,"decision":{json.dumps(decision)},"reasons":[]}}')
                produced += 1
                yield (f"gate-{station:03d}", epochs[station], seq, f"{seq:064x}", 0, when,
                       f"s{station}-{seq}", kind, when, when, 1, day.isoformat(), subject,
                       "张*", "green", decision, "[]", temp, raw, device, ref, 0, 0)


def load_postgresql(url: str, records: int, stations: int, days: int,
                    first_day: dt.date) -> float:
    """COPY the synthetic records in (secondary indexes dropped, then rebuilt), the
    stations and their epochs; seconds it took."""
    import psycopg

    started = time.perf_counter()
    conninfo = url.replace("postgresql://", "postgresql://", 1)
    with psycopg.connect(conninfo) as conn:
        with conn.cursor() as cur:
            for station in range(stations):
                cur.execute("INSERT INTO stations (id, enterprise, token_hash, created, "
                            "last_heartbeat, heartbeat) VALUES (%s, %s, %s, %s, %s, %s)",
                            (f"gate-{station:03d}", f"企业 {station % 23:02d}",
                             uuid.uuid4().hex, "2021-01-01T00:00:00+08:00",
                             dt.datetime.now().isoformat(timespec="seconds"),
                             json.dumps({"backlog": 0, "faults": []})))
            for index in SECONDARY:
                cur.execute(f"DROP INDEX IF EXISTS {index}")  # type: ignore[arg-type]
            with cur.copy(f"COPY records ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[arg-type]
                for row in synthetic_rows(records, stations, days, first_day):
                    copy.write_row(row)
            print(f"  copied {records:,} records in {time.perf_counter() - started:.0f} s",
                  flush=True)
            cur.execute("INSERT INTO epochs (station, epoch, acked_through, first_seen) "
                        "SELECT station, epoch, max(seq), min(received) FROM records "
                        "GROUP BY station, epoch")
        conn.commit()
    # the secondary indexes again, as the migrations made them
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for statement in indexes():
            conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(median, p95) milliseconds of `repeat` calls, after one warm-up call."""
    call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


TRACE_SQL = """SELECT r.station, s.enterprise, r.kind, r.time, r.corrected_time, r.decision,
                      r.temperature_c
               FROM records r JOIN stations s ON s.id = r.station
               WHERE r.subject = :subject AND r.day >= :first AND r.day <= :last
                 AND r.purged = 0
               ORDER BY r.day, coalesce(r.corrected_time, r.time)"""


READS_SETTINGS = "-c shared_buffers=512MB -c work_mem=16MB"


def loaded_cluster(keep: Path | None, records: int, stations: int, days: int,
                   first_day: dt.date, settings: str = READS_SETTINGS
                   ) -> tuple[PgCluster, str, str]:
    """A started cluster holding the loaded database, its URL and how it came to be. With
    `keep`, the cluster lives in that directory and outlives the run: a later run with the
    same directory and the same --records/--stations reuses it instead of loading again
    (7 minutes for 10M records); other figures there are refused with one line."""
    marker = keep / "bench-database.json" if keep is not None else None
    wanted = {"records": records, "stations": stations, "days": days,
              "first_day": first_day.isoformat()}
    if keep is not None and marker is not None and marker.is_file():
        saved = json.loads(marker.read_text())
        if {k: saved.get(k) for k in wanted} != wanted:
            raise SystemExit(f"bench/town.py: {keep} holds a database of {saved}, not "
                             f"{wanted}; use another --keep directory or remove it")
        cluster = PgCluster(keep).resume(settings=settings)
        return cluster, cluster.url(saved["database"]), f"reused from {keep}"
    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise SystemExit(f"bench/town.py: {keep} is not empty and holds no loaded database")
    cluster = PgCluster(keep).start(settings=settings)
    try:
        url = cluster.new_database()
        seconds = load_postgresql(url, records, stations, days, first_day)
    except BaseException:
        cluster.stop()
        raise
    if marker is not None:
        marker.write_text(json.dumps({**wanted,
                                      "database": url.split("@/", 1)[1].split("?")[0]}))
    return cluster, url, f"loaded in {seconds:.0f} s"


# the indexes the store uses when present (store.entries, store.alarms), as schema 6 makes
# them: --proposed-indexes measures with them, without it they are dropped
PROPOSED = {
    "records_when_day": "CREATE INDEX IF NOT EXISTS records_when_day ON records "
                        "((substr(coalesce(corrected_time, time), 1, 10)), id) "
                        "INCLUDE (corrected_time, time) WHERE purged = 0",
    "records_alarm_when": "CREATE INDEX IF NOT EXISTS records_alarm_when ON records "
                          "((coalesce(corrected_time, time)) DESC, id DESC) "
                          "INCLUDE (station, epoch, event_id) WHERE kind = 'alarm' "
                          "AND simulated = 0 AND quarantined = 0 AND purged = 0",
}


def set_proposed(url: str, wanted: bool, records_when: bool = False) -> None:
    """Make or drop the proposed indexes, and `records_when` (schema 4 made it, schema 7
    dropped it), so a run measures what it says."""
    import psycopg

    from sync.town.migrations.versions import r0007

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for name, statement in PROPOSED.items():
            if wanted:
                conn.execute(statement)  # type: ignore[arg-type]
            else:
                conn.execute(f"DROP INDEX IF EXISTS {name}")  # type: ignore[arg-type]
        if records_when:
            conn.execute(r0007.POSTGRESQL.replace("INDEX", "INDEX IF NOT EXISTS", 1))  # type: ignore[arg-type]
        else:
            conn.execute("DROP INDEX IF EXISTS records_when")
        if wanted or records_when:
            conn.execute("VACUUM ANALYZE records")


def bench_reads(records: int, stations: int, repeat: int, keep: Path | None = None,
                pg_settings: str = "", proposed: bool = False,
                records_when: bool = False) -> None:
    days = 60
    first_day = dt.date(2021, 1, 1)
    cluster, url, how = loaded_cluster(keep, records, stations, days, first_day,
                                       f"{READS_SETTINGS} {pg_settings}".strip())
    try:
        set_proposed(url, proposed, records_when)
        store = SqlTownStore(url)
        size = store.db.query("SELECT pg_total_relation_size('records') AS b")[0]["b"]
        print(f"reads on PostgreSQL ({pg_settings or 'default settings'}; proposed indexes "
              f"{'present' if proposed else 'absent'}, records_when "
              f"{'present' if records_when else 'absent'}): {records:,} records "
              f"of {stations} stations over {days} days, {how}; records table with indexes "
              f"{size / 2**30:.2f} GiB = {size / records:.0f} bytes per record", flush=True)
        rng = random.Random(3)
        last_day = first_day + dt.timedelta(days=days - 1)
        top = int(store.db.query("SELECT max(id) AS m FROM records")[0]["m"])

        def page_station() -> Any:
            return store.entries(station=f"gate-{rng.randrange(stations):03d}",
                                 after=rng.randrange(top), limit=100)

        def page_enterprise() -> Any:
            return store.entries(enterprise=f"企业 {rng.randrange(23):02d}",
                                 after=rng.randrange(top), limit=100)

        def page_day() -> Any:
            day = first_day + dt.timedelta(days=rng.randrange(days))
            return store.entries(since=f"{day.isoformat()}T00:00:00+08:00",
                                 until=f"{day.isoformat()}T23:59:59+08:00", limit=100)

        def page_since() -> Any:  # an open window: not read day by day
            day = first_day + dt.timedelta(days=days - 1 - rng.randrange(2))
            return store.entries(since=f"{day.isoformat()}T{rng.randrange(10, 20)}:00:00+08:00",
                                 limit=100)

        def page_long() -> Any:
            return store.entries(since="2021-01-20", until="2021-02-25T00:00:00+08:00",
                                 limit=100)

        def page_first() -> Any:
            return store.entries(limit=100)

        def dashboard() -> Any:
            day = first_day + dt.timedelta(days=rng.randrange(days))
            return (store.stations(), store.day_summary(day), store.alarms(limit=50),
                    store.served_bundle())

        def trace() -> Any:
            subject = f"W{rng.randrange(23):02d}{rng.randrange(400):05d}"
            start = first_day + dt.timedelta(days=rng.randrange(days - 14))
            rows = store.db.query(TRACE_SQL, {"subject": subject, "first": start.isoformat(),
                                              "last": (start + dt.timedelta(days=13)
                                                       ).isoformat()})
            assert rows is not None
            return rows

        for name, call, target in (
                ("entries page (first)", page_first, 50), ("entries page, one station",
                                                            page_station, 50),
                ("entries page, one enterprise", page_enterprise, 50),
                ("entries page, one day", page_day, 50),
                ("entries page, since an hour of the last two days", page_since, 50),
                ("dashboard", dashboard, 200),
                ("subject trace, 14 days", trace, 100)):
            median, p95 = timed(call, repeat)
            print(f"  {name}: median {median:.1f} ms, p95 {p95:.1f} ms (target ≤ {target} ms)"
                  f"{'' if p95 <= target else '  MISSED'}", flush=True)
        # the slow path, no target: a window longer than WINDOW_DAYS is not read day by day
        median, p95 = timed(page_long, min(repeat, 5))
        print(f"  entries page, a 36-day window ({min(repeat, 5)} calls): median "
              f"{median:.0f} ms, p95 {p95:.0f} ms", flush=True)
        print(f"  last day {last_day}; load average {os.getloadavg()[0]:.1f}")
        store.close()
    finally:
        cluster.stop(keep=keep is not None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", default=["ingest", "reads"])
    parser.add_argument("--engines", default="pg1,pg4,sqlite1")
    parser.add_argument("--stations", type=int, default=None,
                        help="ingest: 200 stations; reads: 500")
    parser.add_argument("--batches", type=int, default=5, help="ingest: batches per station")
    parser.add_argument("--records", type=int, default=10_000_000, help="reads: stored records")
    parser.add_argument("--repeat", type=int, default=50, help="reads: timed calls per query")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="reads: keep the loaded PostgreSQL cluster in DIR and reuse it "
                             "on later runs with the same DIR (no 7-minute reload)")
    parser.add_argument("--proposed-indexes", action="store_true",
                        help="reads: with records_when_day and records_alarm_when (made if "
                             "missing; without this option they are dropped)")
    parser.add_argument("--records-when", action="store_true",
                        help="reads: with records_when, the index schema 7 dropped (made if "
                             "missing; without this option it is dropped)")
    parser.add_argument("--pg-settings", default="", metavar="'-c NAME=VALUE …'",
                        help="reads: more PostgreSQL settings, e.g. "
                             "'-c max_parallel_workers_per_gather=0'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="town-bench-") as scratch:
        for which in args.which:
            if which == "ingest":
                for engine in args.engines.split(","):
                    bench_ingest(engine, args.stations or 200, args.batches, Path(scratch))
            elif which == "reads":
                bench_reads(args.records, args.stations or 500, args.repeat, args.keep,
                            args.pg_settings, args.proposed_indexes, args.records_when)
            else:
                parser.error(f"unknown benchmark {which!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
