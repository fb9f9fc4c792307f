"""The town on PostgreSQL: `db init`/`db upgrade`/refusals with a postgresql:// URL, and
sync.md's guarantees with several connections (several server processes) on one database —
the same batch pushed twice at once, one station's batches interleaved over two stores, a
conflict racing a duplicate, bundle serials allocated at once — and `serve --workers 2` on
both engines. The query contract the town office console relies on, on both engines."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import random
import threading
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from sync.town.cli import main
from sync.town.db import SCHEMA_VERSION
from sync.town.store import Conflict, SqlTownStore, StoreError
from tests.test_town_server import entry, push_body
from tests.townkit import TownProcess, town_cli

CLOCK = {"wall": "2021-02-01T07:31:00.120+08:00", "synced": True, "boot_id": "b1",
         "boottime_ns": 2_000_000_000}


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def two_stores(url: str) -> tuple[SqlTownStore, SqlTownStore]:
    """Two stores on one database: two engines with their own connections, as two server
    worker processes have."""
    return SqlTownStore(url), SqlTownStore(url)


def at_once(*calls: Any) -> list[Any]:
    """Run the calls in threads released together; each one's result or exception."""
    barrier = threading.Barrier(len(calls))

    def run(call: Any) -> Any:
        barrier.wait()
        try:
            return call()
        except Exception as error:  # the caller looks at what happened
            return error

    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


# -- the database commands -----------------------------------------------------------------


def test_db_init_upgrade_and_refusals_on_postgresql(pg_cluster: Any) -> None:
    url = pg_cluster.new_database(empty=True)
    secret = url.replace("town@", "town:s3cret-pw@")
    code, output = cli("stations", "list", "--db", secret)
    assert code == 1 and "no town database here" in output and "db init" in output
    assert "s3cret" not in output and output.count("\n") == 1
    assert cli("db", "init", "--db", secret) == (
        0, f"created town database {secret.replace('s3cret-pw', '***')} "
        f"(schema {SCHEMA_VERSION})\n")
    code, output = cli("db", "init", "--db", url)
    assert code == 1 and "already exists" in output
    assert cli("db", "upgrade", "--db", url)[1].endswith(f"already at schema {SCHEMA_VERSION}\n")
    assert cli("stations", "add", "gate-a", "--enterprise", "x", "--db", url)[0] == 0
    store = SqlTownStore(url)
    with store.db.transaction() as tx:  # an older town-server's database: schema 2
        for index in ("records_subject", "records_alarm", "records_acked",
                      "records_day_kind", "records_when_day", "records_alarm_when"):
            tx.run(f"DROP INDEX {index}")
        tx.run("DROP TABLE heartbeats")
        tx.run("UPDATE alembic_version SET version_num = '0002'")
    store.close()
    code, output = cli("stations", "list", "--db", url)
    assert code == 1 and "schema version 2" in output and "db upgrade" in output
    code, output = cli("db", "upgrade", "--db", url)
    assert code == 0 and "migrated schema 2 → 3" in output and "migrated schema 3 → 4" in output
    assert "migrated schema 4 → 5" in output and "migrated schema 5 → 6" in output
    assert "migrated schema 6 → 7" in output
    assert "gate-a" in cli("stations", "list", "--db", url)[1]
    store = SqlTownStore(url)
    with store.db.transaction() as tx:  # a newer town-server's database
        tx.run("UPDATE alembic_version SET version_num = '0099'")
    store.close()
    for command in (["stations", "list"], ["db", "upgrade"], ["serve"]):
        code, output = cli(*command, "--db", url)
        assert code == 1 and "newer" in output and output.count("\n") == 1, output


def test_an_unreachable_or_foreign_database_is_one_line(pg_cluster: Any,
                                                        tmp_path: Path) -> None:
    for url in (f"postgresql://town@/nothere?host={tmp_path}",
                pg_cluster.url("no_such_database")):
        code, output = cli("stations", "list", "--db", url)
        assert code == 1 and output.startswith("town-server: ") and \
            output.count("\n") == 1, output
        assert "cannot use the town database" in output
    code, output = cli("stations", "list", "--db", "mysql://x@y/z")
    assert code == 1 and "postgresql://" in output


# -- several connections, one database ------------------------------------------------------


@pytest.fixture
def url(pg_cluster: Any) -> str:
    url = str(pg_cluster.new_database())
    SqlTownStore(url).add_station("gate-a", "x")
    return url


def batch(first: int, last: int, **fields: Any) -> list[dict[str, Any]]:
    return [entry(seq, **fields) for seq in range(first, last + 1)]


def test_the_same_batch_pushed_at_once_is_stored_once(url: str) -> None:
    a, b = two_stores(url)
    for round_ in range(10):
        epoch = str(uuid.uuid4())
        records = batch(1, 200)
        first, second = at_once(partial(a.ingest, "gate-a", epoch, CLOCK, records),
                                partial(b.ingest, "gate-a", epoch, CLOCK, records))
        assert {first.accepted, second.accepted} == {200, 0}, round_
        assert first.accepted + first.duplicates == second.accepted + second.duplicates == 200
        assert first.acked_through == second.acked_through == 200
        assert [s for s, _ in a.epoch_records("gate-a", epoch)] == list(range(1, 201))


def test_one_stations_batches_interleaved_over_two_workers(url: str) -> None:
    a, b = two_stores(url)
    rng = random.Random(5)
    epoch = str(uuid.uuid4())
    for start in range(1, 2001, 200):
        halves = [batch(start, start + 99), batch(start + 100, start + 199)]
        rng.shuffle(halves)
        first, second = at_once(partial(a.ingest, "gate-a", epoch, CLOCK, halves[0]),
                                partial(b.ingest, "gate-a", epoch, CLOCK, halves[1]))
        # whichever committed second saw the other: acked_through covers both halves
        assert max(first.acked_through, second.acked_through) == start + 199
        assert min(first.acked_through, second.acked_through) in (start - 1, start + 99)
    (status,) = a.stations()
    assert status.epochs == {epoch: 2000}
    assert [s for s, _ in a.epoch_records("gate-a", epoch)] == list(range(1, 2001))


def test_a_conflict_racing_a_duplicate(url: str) -> None:
    a, b = two_stores(url)
    for round_ in range(10):
        epoch = str(uuid.uuid4())
        good, other = batch(1, 50), batch(1, 50)
        other[25] = entry(26, subject="W-other")
        first, second = at_once(partial(a.ingest, "gate-a", epoch, CLOCK, good),
                                partial(b.ingest, "gate-a", epoch, CLOCK, other))
        outcomes = sorted(type(r).__name__ for r in (first, second))
        assert outcomes == ["Conflict", "IngestResult"], (round_, first, second)
        winner = good if not isinstance(first, Conflict) else other
        stored = a.entries(limit=10_000)
        mine = {e["seq"]: e["subject"] for e in stored if e["epoch"] == epoch}
        assert mine == {e["seq"]: e["subject"] for e in winner}


def test_bundle_serials_allocated_at_once_are_distinct(url: str) -> None:
    a, b = two_stores(url)
    life = dt.timedelta(days=7)
    results = at_once(*[lambda s=s: s.export_bundle(life) for s in (a, b) * 8])
    serials = [r["serial"] for r in results]
    assert sorted(serials) == list(range(1, 17))


def test_online_signing_by_two_workers_signs_once(url: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    a, b = two_stores(url)
    key = ed25519.Ed25519PrivateKey.generate()
    life = dt.timedelta(days=7)
    at_once(lambda: a.sign_if_needed(key, life), lambda: b.sign_if_needed(key, life))
    a.set_rule("fever_threshold_c", 37.5)
    at_once(lambda: a.sign_if_needed(key, life), lambda: b.sign_if_needed(key, life))
    signed = a.db.query("SELECT serial FROM bundles ORDER BY serial")
    assert [row["serial"] for row in signed] == [1, 2]


def test_a_write_off_and_ingest_race(url: str) -> None:
    a, b = two_stores(url)
    epoch = str(uuid.uuid4())
    a.ingest("gate-a", epoch, CLOCK, batch(1, 10))
    results = at_once(lambda: a.write_off("gate-a", epoch, 20, "cli:test", "lost"),
                      lambda: b.ingest("gate-a", epoch, CLOCK, batch(21, 30)))
    assert not any(isinstance(r, Exception) for r in results), results
    (status,) = a.stations()
    assert status.epochs == {epoch: 30}


# -- the query contract (town office console) -----------------------------------------------


@pytest.mark.usefixtures("town_engine")
def test_the_query_contract_on_both_engines(tmp_path: Path) -> None:
    from tests.pgkit import new_town_db

    store = SqlTownStore(new_town_db(tmp_path / "town.db"))
    store.add_station("gate-a", "红炉机械厂")
    epoch = str(uuid.uuid4())
    store.ingest("gate-a", epoch, CLOCK, [entry(1, subject="W7"), entry(2, subject="W8")])
    db = store.db
    assert db.dialect_name in ("sqlite", "postgresql") and db.engine.dialect.name == \
        db.dialect_name
    rows = db.query("SELECT r.subject, s.enterprise FROM records r JOIN stations s ON "
                    "s.id = r.station WHERE r.station = :station AND r.subject IN (:subjects) "
                    "ORDER BY r.seq", {"station": "gate-a", "subjects": ["W7", "W8"]})
    assert [(row["subject"], row["enterprise"]) for row in rows] == [
        ("W7", "红炉机械厂"), ("W8", "红炉机械厂")]
    assert db.query("SELECT count(*) AS n FROM records WHERE subject = ?", ["W8"])[0]["n"] == 1
    assert dict(db.query("SELECT 'x?' AS t", [])[0]) == {"t": "x?"}
    with pytest.raises(StoreError):
        db.query("SELECT ?", [])


# -- several server processes -----------------------------------------------------------------


@pytest.mark.usefixtures("town_engine")
def test_serve_with_two_workers(tmp_path: Path) -> None:
    """`serve --workers 2` on each engine: pushes from many threads, answered by both
    workers, every seq stored once and acked."""
    from tests.pgkit import new_town_db

    db = new_town_db(tmp_path / "town.db")
    token = town_cli("stations", "add", "gate-a", "--enterprise", "x", "--db", db)
    town = TownProcess(db, workers=2, log=tmp_path / "town.log").start()
    epoch = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {token}"}
    try:
        def push(start: int) -> int:
            body = push_body(*batch(start, start + 49), epoch=epoch)
            with httpx.Client(base_url=town.url, timeout=30) as client:
                for _ in range(50):
                    response = client.post("/api/v1/stations/gate-a/entries", json=body,
                                           headers=headers)
                    if response.status_code == 200:
                        return int(response.json()["acked_through"])
                    assert response.status_code in (429, 503), response.text
                raise AssertionError("never accepted")

        assert len(town.worker_pids()) == 2
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            starts = list(range(1, 2000, 50))
            random.Random(3).shuffle(starts)
            acked = list(pool.map(push, starts))
        assert max(acked) == 2000
        again = push(1)  # a duplicate: acked_through answers for the whole epoch
        assert again == 2000
    finally:
        town.stop()
    store = SqlTownStore(db)
    assert [s for s, _ in store.epoch_records("gate-a", epoch)] == list(range(1, 2001))
    assert json.loads(json.dumps(store.stations()[0].epochs)) == {epoch: 2000}
