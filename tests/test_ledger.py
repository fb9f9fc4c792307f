"""The ledger: durability settings, identity, atomic appends, read-only readers, migrations."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from station.ledger import (
    MIGRATIONS,
    REGISTRATION_COLUMNS,
    DecidedEntry,
    Ledger,
    LedgerError,
    Record,
)


def record(kind: str = "entry", **fields: object) -> Record:
    return Record(kind=kind, time="2021-02-01T07:30:05.412+08:00", day="2021-02-01",  # type: ignore[arg-type]
                  clock_synced=True, **fields)  # type: ignore[arg-type]


def test_durability_settings(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        conn = ledger._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_epoch_is_made_once_and_kept(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as first:
        epoch = first.epoch
    with Ledger(tmp_path / "l.db") as again:
        assert again.epoch == epoch
    with Ledger(tmp_path / "other.db") as other:
        assert other.epoch != epoch  # a re-flashed card starts a new epoch


def test_seq_counts_up_and_is_never_reused(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        written = ledger.append(record(), record(), record())
        assert [r.seq for r in written] == [1, 2, 3]
        ledger._conn.execute("DELETE FROM records WHERE seq = 3")  # a purge
        assert ledger.append(record())[0].seq == 4


def test_records_round_trip(tmp_path: Path) -> None:
    original = record(subject="W1", name="张*", color="green", temperature_c=36.5,
                      readings=(37.4, 36.5), decision="admit", reasons=(), boot_id="b",
                      boottime_ns=123)
    with Ledger(tmp_path / "l.db") as ledger:
        (written,) = ledger.append(original)
        (read,) = ledger.all_records()
    assert read == written and read.seq == 1 and read.readings == (37.4, 36.5)


def test_an_append_is_all_or_nothing(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        entry = record()
        duplicate = record(event_id=entry.event_id)  # violates UNIQUE(event_id)
        with pytest.raises(LedgerError):
            ledger.append(record(), duplicate, entry)
        assert ledger.count() == 0


def test_a_full_disk_is_a_ledger_error(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger._conn.execute("PRAGMA max_page_count = 1")  # nothing more fits
        with pytest.raises(LedgerError, match="cannot write"):
            ledger.append(*(record(detail="x" * 4000) for _ in range(5)))


def test_readers_are_read_only_and_do_not_block_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    writer = Ledger(path)
    writer.append(record())
    reader = Ledger.open_readonly(path)
    with pytest.raises(LedgerError, match="read-only"):
        reader.append(record())
    with pytest.raises(sqlite3.OperationalError):
        reader._conn.execute("DELETE FROM records")
    reader._conn.execute("BEGIN")
    assert reader._conn.execute("SELECT count(*) FROM records").fetchone()[0] == 1
    started = time.perf_counter()
    writer.append(record())  # a long read transaction is open: WAL lets the writer go on
    assert time.perf_counter() - started < 1.0
    reader._conn.execute("COMMIT")
    assert reader.count() == 2
    reader.close()
    writer.close()


def test_a_reader_of_a_closed_ledger_without_wal_files(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Ledger(path) as writer:
        writer.append(record())
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"l.db{suffix}").unlink(missing_ok=True)
    path.parent.chmod(0o555)  # like an officer reading a directory they cannot write
    try:
        with Ledger.open_readonly(path) as reader:
            assert reader.count() == 1
    finally:
        path.parent.chmod(0o755)


def test_a_concurrent_reader_sees_only_committed_records(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Ledger(path) as writer:
        counts: list[int] = []
        stop = threading.Event()

        def read() -> None:
            with Ledger.open_readonly(path) as reader:
                while not stop.is_set():
                    counts.append(reader.count())

        thread = threading.Thread(target=read)
        thread.start()
        for _ in range(50):
            writer.append(record(), record(kind="alarm"))  # always in pairs
        stop.set()
        thread.join()
    assert counts and all(n % 2 == 0 for n in counts)


def test_not_a_ledger_and_newer_schemas_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (y)")
    with pytest.raises(LedgerError, match="not a gate-station ledger"):
        Ledger(other)
    newer = tmp_path / "newer.db"
    Ledger(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(LedgerError, match="newer than this program"):
        Ledger(newer)
    with pytest.raises(LedgerError, match="newer than this program"):
        Ledger.open_readonly(newer)
    with pytest.raises(LedgerError, match="no ledger here"):
        Ledger.open_readonly(tmp_path / "missing.db")


def test_an_older_ledger_is_migrated_in_place(tmp_path: Path) -> None:
    """A schema-2 ledger (device as the first word of `detail`) opens as schema 3 with the
    device in its own column, the epoch and every record kept."""
    path = tmp_path / "l.db"
    conn = sqlite3.connect(path)
    schema_2 = [m for m in MIGRATIONS[:2] if isinstance(m, str)]
    for statement in "".join(schema_2).split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('epoch', 'e-1'), ('created', 'then')")
    old = {key: value for key, value in record(kind="fault").to_row().items()
           if key not in ("device", *REGISTRATION_COLUMNS)}
    for detail in ("thermometer: I2C error", "camera: recovered", "no device word"):
        columns = ", ".join(old)
        conn.execute(f"INSERT INTO records ({columns}) VALUES ({', '.join('?' * len(old))})",
                     [*{**old, "detail": detail, "event_id": detail}.values()])
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with Ledger(path) as upgraded:
        assert upgraded._conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        faults = [(r.device, r.detail) for r in upgraded.all_records()]
        assert faults == [("thermometer", "I2C error"), ("camera", "recovered"),
                          (None, "no device word")]
        assert upgraded.epoch == "e-1" and upgraded.open_faults() == ["thermometer"]


def test_schema_4_keeps_the_seq_high_water_mark_and_takes_the_new_kinds(
        tmp_path: Path) -> None:
    """The table rebuild of schema 4 must not let a purged seq be issued again."""
    path = tmp_path / "l.db"
    with Ledger(path) as ledger:
        ledger.append(*(record() for _ in range(5)))
        ledger.mark_synced(range(1, 6), 5)
        ledger.purge_synced(dt.date(2021, 3, 1))  # every record gone; seq 5 was issued
        assert ledger.count() == 0 and ledger.highest_seq() == 5
        ledger._conn.execute("PRAGMA user_version = 3")  # as if schema 4 had not run
    with Ledger(path) as upgraded:
        (vehicle,) = upgraded.append(record(kind="vehicle", plate="渝A12345", disinfected=True,
                                            occupants=2, operator="guard1"))
        assert vehicle.seq == 6
        (again,) = upgraded.all_records()
        assert (again.plate, again.disinfected, again.occupants) == ("渝A12345", True, 2)
        assert again.to_json()["disinfected"] is True and "note" not in again.to_json()
        with pytest.raises(LedgerError):
            upgraded.append(record(kind="parcel"))


def test_a_new_ledger_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        Ledger(tmp_path / "l.db").close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "l.db").stat().st_mode) == 0o600


def test_named_reads_for_sync(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append(record(), record(kind="alarm"), record(),
                      record(kind="fault", device="camera", detail="unplugged"))
        assert ledger.backlog() == 4 and ledger.highest_seq() == 4
        assert [r.seq for r in ledger.unsynced(10, alarms_after=0)] == [2]
        assert [r.seq for r in ledger.unsynced(2)] == [1, 2]
        assert ledger.mark_synced([1, 2, 2], 2) == 2
        assert ledger.oldest_unsynced_seq() == 3 and ledger.backlog() == 2
        assert ledger.open_faults() == ["camera"]
        ledger.append(record(kind="fault", device="camera", detail="recovered"))
        assert ledger.open_faults() == []


def test_a_path_that_cannot_hold_a_ledger_is_a_ledger_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(LedgerError, match="cannot open the ledger"):
        Ledger(tmp_path / "file" / "ledger.db")


def test_scripts_split_where_sqlite_says_a_statement_ends() -> None:
    from station.sqlite import statements

    script = "CREATE TABLE a (x TEXT DEFAULT ';');\n CREATE INDEX i ON a (x);\n\n"
    assert statements(script) == ["CREATE TABLE a (x TEXT DEFAULT ';');",
                                  "CREATE INDEX i ON a (x);"]


def test_unsynced_json_is_each_records_to_json(tmp_path: Path) -> None:
    """The sync client's fast read gives exactly what Record.to_json gives, field order
    included (the same record always serializes the same)."""
    import json

    with Ledger(tmp_path / "ledger.db") as ledger:
        ledger.append(
            Record(kind="entry", time="2021-02-01T07:30:05.412+08:00", day="2021-02-01",
                   clock_synced=True, subject="W1", name="张三", readings=(36.5, 36.6),
                   reasons=("fever",), temperature_c=36.6, boottime_ns=5),
            Record(kind="vehicle", time="2021-02-01T07:31:00.000+08:00", day="2021-02-01",
                   clock_synced=False, plate="渝A12345", plate_other=False, cold_chain=True,
                   occupants=2, driver_phone="13800138000"),
            Record(kind="alarm", time="2021-02-01T07:32:00.000+08:00", day="2021-02-01",
                   clock_synced=True, temperature_c=38.1))
        expected = [record.to_json() for record in ledger.unsynced(10)]
        fast = ledger.unsynced_json(10)
        assert [json.dumps(e) for e in fast] == [json.dumps(e) for e in expected]
        assert fast[1]["cold_chain"] is True and "cold_chain" not in fast[0]
        assert [e["seq"] for e in ledger.unsynced_json(10, alarms_after=0)] == [3]


def test_reason_search_matches_exact_codes_through_the_reasoned_index(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append(record(event_id="a", reasons=("fever",), decision="deny"),
                      record(event_id="b", reasons=("fever_recheck",), decision="deny"),
                      record(event_id="c", decision="admit"))
        found, total = ledger.search(first_day="2021-01-01", last_day="2021-12-31",
                                     reason="fever")
        assert [r.event_id for r in found] == ["a"] and total == 1
        plan = " ".join(str(row[3]) for row in ledger._conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM records WHERE day BETWEEN ? AND ? "
            "AND reasons <> '[]' AND instr(reasons, ?) > 0", ["2021-01-01", "2021-12-31",
                                                                '"fever"']))
        assert "records_reasoned" in plan


def test_decided_entries_carry_the_same_fields_as_whole_records(tmp_path: Path) -> None:
    """The what-if page's lean read gives, field for field, what the whole records hold."""
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.append(
            record(event_id="a", reasons=("fever", "fever_recheck"), decision="deny",
                   temperature_c=37.9, nat="2021-02-18", returned="2021-02-20",
                   origin="risk-district"),
            record(event_id="b", decision="admit"),
            record(event_id="c", kind="exit"),
            record(event_id="d", decision="deny", reasons=("expired",), subject=None,
                   color=None, temperature_c=None))
        whole = ledger.entries_on(record().day)
        lean = ledger.decided_entries_on(record().day)
        assert [r.event_id for r in whole] == ["a", "b", "d"]
        assert lean == [tuple(getattr(r, name) for name in DecidedEntry._fields)
                        for r in whole]
        assert lean[0].reasons == ("fever", "fever_recheck") and lean[1].reasons == ()
