"""The read paths made for a district's 10,000,000 records (issue 12, bench/town.py reads):
a day's entries page read day by day from `records_when_day` when the database has that
index (the same answer as without it), and the day's figures counted per station first."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from sync.town.store import SqlTownStore, window_days
from tests.pgkit import new_town_db

pytestmark = pytest.mark.usefixtures("town_engine")  # every test on SQLite and PostgreSQL

# schema 6 makes both indexes; each test drops one to read the same pages without it
WHEN_DAY = ("CREATE INDEX records_when_day ON records "
            "((substr(coalesce(corrected_time, time), 1, 10)), id) WHERE purged = 0")
ALARM_WHEN = ("CREATE INDEX records_alarm_when ON records "
              "((coalesce(corrected_time, time)) DESC, id DESC) WHERE kind = 'alarm' "
              "AND simulated = 0 AND quarantined = 0 AND purged = 0")


def without_index(store: SqlTownStore, name: str) -> None:
    assert store._has_index(name)  # made by the migrations (schema 6)
    with store.db.transaction() as tx:
        tx.run(f"DROP INDEX {name}", {})
    store._indexes.clear()


def record(seq: int, when: str, *, synced: bool = True, **fields: Any) -> dict[str, Any]:
    base = {"seq": seq, "event_id": f"e-{seq}", "kind": "entry", "time": when,
            "clock_synced": synced, "boot_id": "b1", "boottime_ns": 1_000_000_000 + seq,
            "direction": "in", "subject": "W1", "issuer": "500118", "color": "green",
            "temperature_c": 36.5, "ambient_c": 21.8, "decision": "admit", "reasons": []}
    base.update(fields)
    return base


def filled_store(tmp_path: Path) -> SqlTownStore:
    """Records over three days, arriving out of time order, one with an unsynced clock
    (its corrected time is the server's arrival time, not its own day)."""
    store = SqlTownStore(new_town_db(tmp_path / "town.db"))
    store.add_station("gate-a", "红炉机械厂")
    times = ["2021-02-02T08:00:00.000+08:00", "2021-02-01T23:59:59.999+08:00",
             "2021-02-01T07:00:00.000+08:00", "2021-02-03T00:00:00.000+08:00",
             "2021-02-02T12:30:00.000+08:00", "2021-02-01T12:00:00.000+08:00",
             "2021-02-02T23:00:00.000+08:00", "2021-02-03T09:15:00.000+08:00"]
    entries = [record(n + 1, when, kind="alarm" if n == 4 else "entry")
               for n, when in enumerate(times)]
    entries.append(record(9, "2019-01-01T00:00:00.000+08:00", synced=False))
    clock = {"boot_id": "b1", "synced": False, "boottime_ns": 1_000_000_009}
    store.ingest("gate-a", str(uuid.uuid4()), clock, entries)
    return store


def pages(store: SqlTownStore, **window: Any) -> list[list[int]]:
    """Every page of 2 (seqs), following the cursor as the API does."""
    out, after = [], 0
    while True:
        rows = store.entries(limit=2, after=after, **window)
        out.append([row["seq"] for row in rows])
        if len(rows) < 2:
            return out
        after = rows[-1]["id"]


WINDOWS: list[dict[str, Any]] = [
    {"since": "2021-02-01T00:00:00+08:00", "until": "2021-02-01T23:59:59+08:00"},
    {"since": "2021-02-01T00:00:00+08:00", "until": "2021-02-02T00:00:00+08:00"},
    {"since": "2021-02-01T12:00:00+08:00", "until": "2021-02-03T09:00:00+08:00"},
    {"since": "2021-02-02", "until": "2021-02-04"},
    {"since": "2021-02-02", "until": "2021-02-04", "kind": "alarm"},
    {"since": "2021-02-01T00:00:00+08:00", "until": "2021-04-01T00:00:00+08:00"},  # > 31 d
    {"since": "2021-02-01T00:00:00+08:00"},
    {"since": "2021-W05-1", "until": "2021-02-02"},
]


def test_a_window_reads_the_same_pages_with_or_without_the_day_index(tmp_path: Path) -> None:
    store = filled_store(tmp_path)
    try:
        without_index(store, "records_when_day")
        now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
        today = {"since": now, "until": f"{now}T23:59:59.999+08:00"}
        without = [pages(store, **window) for window in [*WINDOWS, today]]
        assert without[0] == [[3, 6], []]  # 23:59:59.999 is after 23:59:59 (text)
        assert without[1] == [[2, 3], [6]]  # arrival order, not time order
        assert without[2] == [[1, 2], [4, 5], [6, 7], []]
        assert without[-1] == [[9]]  # the unsynced record counts on its corrected day
        assert not store._has_index("records_when_day")
        with store.db.transaction() as tx:
            tx.run(WHEN_DAY, {})
        store._indexes.clear()
        assert store._has_index("records_when_day")
        assert [pages(store, **window) for window in [*WINDOWS, today]] == without
    finally:
        store.close()


def test_window_days_covers_every_text_between_its_ends() -> None:
    assert window_days("2021-02-01T10:00:00+08:00", "2021-02-03") == [
        "2021-02-01", "2021-02-02", "2021-02-03"]
    assert window_days("2021-02-28", "2021-03-01T00:00:00+08:00") == [
        "2021-02-28", "2021-03-01"]
    for since, until in ((None, "2021-02-01"), ("2021-02-01", None), ("2021-02-03",
                         "2021-02-01"), ("2021-01-01", "2021-02-01"), ("2021-W05-1",
                         "2021-02-02"), ("yesterday", "2021-02-02"), ("2021-02-30",
                         "2021-03-01")):
        assert window_days(since, until) is None, (since, until)


def test_day_summary_counts_per_enterprise(tmp_path: Path) -> None:
    store = SqlTownStore(new_town_db(tmp_path / "town.db"))
    try:
        for station, enterprise in (("gate-a", "红炉机械厂"), ("gate-b", "红炉机械厂"),
                                    ("gate-c", "永川电子")):
            store.add_station(station, enterprise)
        day = "2021-02-01T08:00:00.000+08:00"
        clock = {"boot_id": "b1", "synced": True, "boottime_ns": 2_000_000_000}
        store.ingest("gate-a", str(uuid.uuid4()), clock, [
            record(1, day), record(2, day, decision="deny"), record(3, day, kind="vehicle"),
            record(4, day, kind="exit", decision=None)])
        store.ingest("gate-b", str(uuid.uuid4()), clock, [record(1, day), record(2, day)])
        store.ingest("gate-c", str(uuid.uuid4()), clock, [record(1, day, decision="deny")])
        store.ingest("gate-c", str(uuid.uuid4()), clock, [record(1, day)], simulated=True)
        summary = store.day_summary(dt.date(2021, 2, 1))
        assert summary == [
            {"enterprise": "永川电子", "entries": 1, "denied": 1, "admitted": 0,
             "vehicles": 0, "visitors": 0},
            {"enterprise": "红炉机械厂", "entries": 4, "denied": 1, "admitted": 3,
             "vehicles": 1, "visitors": 0}]
        assert all(type(row[k]) is int for row in summary for k in row if k != "enterprise")
    finally:
        store.close()


def test_the_alarm_list_is_the_same_with_or_without_the_alarm_index(tmp_path: Path) -> None:
    store = SqlTownStore(new_town_db(tmp_path / "town.db"))
    try:
        store.add_station("gate-a", "红炉机械厂")
        store.add_station("gate-b", "永川电子")
        clock = {"boot_id": "b1", "synced": True, "boottime_ns": 2_000_000_000}
        for station in ("gate-a", "gate-b"):
            entries = []
            for n in range(12):  # alarms in arrival order, not time order; acks for some
                when = f"2021-02-0{1 + n % 3}T0{n % 10}:00:00.000+08:00"
                entries.append(record(2 * n + 1, when, kind="alarm", temperature_c=38.2))
                if n % 3 == 0:
                    entries.append(record(2 * n + 2, when, kind="ack",
                                          ref_event_id=f"e-{2 * n + 1}", action="sent-home"))
            store.ingest(station, str(uuid.uuid4()), clock, entries)

        def lists() -> list[list[tuple[str, int, bool]]]:
            out = []
            for handled in (None, True, False):
                for offset, limit in ((0, 100), (0, 5), (5, 5), (7, 3), (20, 10)):
                    for window in ({}, {"since": "2021-02-02", "until": "2021-02-03"},
                                   {"enterprise": "永川电子"}):
                        out.append([(a["station"], a["seq"], a["ack"] is not None)
                                    for a in store.alarms(handled=handled, offset=offset,
                                                          limit=limit, **window)])
            return out

        without_index(store, "records_alarm_when")
        without = lists()
        assert len(without[0]) == 24 and [a[2] for a in without[0]] == [False] * 16 + [True] * 8
        assert not store._has_index("records_alarm_when")
        with store.db.transaction() as tx:
            tx.run(ALARM_WHEN, {})
        store._indexes.clear()
        assert store._has_index("records_alarm_when")
        assert lists() == without
    finally:
        store.close()


def test_the_alarm_page_walks_its_index_on_sqlite_without_statistics(tmp_path: Path) -> None:
    """SQLite without ANALYZE would pick records_kind and sort every alarm of all time; the
    page names records_alarm_when and stops at its end."""
    store = SqlTownStore(new_town_db(tmp_path / "town.db"))
    try:
        if store.db.dialect_name != "sqlite":
            pytest.skip("PostgreSQL chooses by its own statistics (bench/town.py reads)")
        store.add_station("gate-a", "红炉机械厂")
        store.ingest("gate-a", str(uuid.uuid4()),
                     {"boot_id": "b1", "synced": True, "boottime_ns": 2_000_000_000},
                     [record(n, "2021-02-01T07:00:00.000+08:00",
                             kind="alarm" if n % 5 == 0 else "entry") for n in range(1, 501)])
        plans: list[str] = []
        query = store._query

        def explained(sql: str, params: Any = ()) -> Any:
            if "ORDER BY coalesce(r.corrected_time, r.time) DESC" in sql:
                rows = store.db.query("EXPLAIN QUERY PLAN " + sql, params)
                plans.append(" ".join(str(row["detail"]) for row in rows))
            return query(sql, params)

        store._query = explained  # type: ignore[method-assign]
        assert len(store.alarms(limit=10)) == 10
        assert plans and all("USING INDEX records_alarm_when" in p for p in plans), plans
        assert not any("TEMP B-TREE" in p for p in plans), plans
    finally:
        store.close()


def test_a_time_window_returns_exactly_the_records_whose_corrected_time_is_in_it(
        tmp_path: Path) -> None:
    """The date conditions `store.entries` adds for `records_when_day` (schema 7) leave every
    answer as the window's own text comparison gives it, at every edge of a day."""
    store = filled_store(tmp_path)
    try:
        check_windows(store)
        # without the record of today (its unsynced clock): every open window (`since`
        # alone) of February lies within 31 days of the latest record, read day by day
        with store.db.transaction() as tx:
            tx.run("DELETE FROM records WHERE seq = 9", {})
        assert store._open_window_days("2021-02-02") == ["2021-02-02", "2021-02-03"]
        check_windows(store)
    finally:
        store.close()


def check_windows(store: SqlTownStore) -> None:
    """Every window of the edges below gives what comparing the texts gives."""
    stored = store.db.query("SELECT seq, coalesce(corrected_time, time) AS t FROM records "
                            "ORDER BY id", {})
    edges = ["2021-02-01", "2021-02-01T", "2021-02-01T23:59:59.999+08:00",
             "2021-02-01T23:59:59.9990+08:00", "2021-02-02", "2021-02-02T00:00:00",
             "2021-02-03T00:00:00.000+08:00", "2021-02-03T00:00:00.000+08:01",
             "2021-02-1", "2021-W05-1", "2021", "2022-01-01", "1999-12-31"]
    for since in [None, *edges]:
        for until in [None, *edges]:
            for station in (None, "gate-a"):
                got = [row["seq"] for row in store.entries(
                    since=since, until=until, station=station, limit=100)]
                wanted = [row["seq"] for row in stored if (since is None or row["t"] >= since)
                          and (until is None or row["t"] < until)]
                assert got == wanted, (since, until, station)


def test_a_long_or_open_window_reads_records_when_day_on_sqlite(tmp_path: Path) -> None:
    """Schema 7 dropped `records_when`: a window the day-by-day path does not take (longer
    than WINDOW_DAYS, or open at one end) reads a date range of `records_when_day`."""
    store = filled_store(tmp_path)
    try:
        if store.db.dialect_name != "sqlite":
            pytest.skip("PostgreSQL chooses by its own statistics (bench/town.py reads)")
        plans: list[str] = []
        query = store._query

        def explained(sql: str, params: Any = ()) -> Any:
            if "coalesce(r.corrected_time, r.time) >=" in sql or \
                    "coalesce(r.corrected_time, r.time) <" in sql:
                rows = store.db.query("EXPLAIN QUERY PLAN " + sql, params)
                plans.append(" ".join(str(row["detail"]) for row in rows))
            return query(sql, params)

        store._query = explained  # type: ignore[method-assign]
        windows: list[dict[str, Any]] = [
            {"since": "2021-02-01T00:00:00+08:00"}, {"until": "2021-02-03T00:00:00+08:00"},
            {"since": "2021-01-01", "until": "2021-04-01"}]
        for window in windows:
            store.entries(**window)
        assert len(plans) == 3
        assert all("USING INDEX records_when_day (<expr>" in p for p in plans), plans
    finally:
        store.close()


def has_records_when(where: str) -> bool:
    store = SqlTownStore(where)
    try:
        return store._has_index("records_when")
    finally:
        store.close()


def test_schema_7_drops_records_when_and_its_downgrade_makes_it_again(
        tmp_path: Path) -> None:
    from alembic import command

    from sync.town.db import (
        StoreError,
        _alembic_config,
        _engine,
        open_database,
        target,
        upgrade_database,
    )

    where = new_town_db(tmp_path / "town.db")
    assert not has_records_when(where)
    engine = _engine(target(where))
    try:
        with engine.connect() as conn:
            conn.execution_options(town_mode="write")
            with conn.begin():
                command.downgrade(_alembic_config(conn), "0006")
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA user_version").scalar() == 6
            assert conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'records_when'"
                if conn.dialect.name == "sqlite" else
                "SELECT count(*) FROM pg_indexes WHERE indexname = 'records_when' "
                "AND schemaname = current_schema()").scalar() == 1
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="schema version 6"):
        open_database(where)  # this town-server refuses the older schema
    said: list[str] = []
    assert upgrade_database(where, said.append) == 6
    assert len(said) == 1 and "migrated schema 6 → 7" in said[0]
    assert not has_records_when(where)
