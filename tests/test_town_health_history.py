"""Station health history (schema 5, `heartbeats`): one row per station per 10-minute slot,
written with each heartbeat, shown on the office's station and health pages (backlog per
hour, silent periods, faults per hour), exported to Excel, purged with the records, and made
by `db upgrade` from schema 4 — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from station.clock import CST
from sync.town import store as store_module
from sync.town.db import SCHEMA_VERSION, upgrade_database
from sync.town.store import SqlTownStore
from tests.pgkit import new_town_db
from tests.test_town_office import DAY, Office, page_of, rows_of_xlsx

pytestmark = pytest.mark.usefixtures("town_engine")  # every test on SQLite and PostgreSQL
MORNING = dt.datetime.combine(dt.date.fromisoformat(DAY), dt.time(7), CST)


def beat(office: Office, station: str, at: dt.datetime, backlog: int,
         faults: list[str] | None = None, monkeypatch: Any = None) -> None:
    """A heartbeat through the API, received at `at` by the server's clock."""
    monkeypatch.setattr(store_module, "now_cst", lambda: at)
    answer = office.client.post(
        f"/api/v1/stations/{station}/heartbeat",
        headers={"Authorization": f"Bearer {office.tokens[station]}"},
        json={"time": at.isoformat(), "clock_synced": True, "version": "0.3.0",
              "backlog": backlog, "faults": faults or [], "bundle_version": None})
    assert answer.status_code == 204, answer.text


def slots(office: Office, station: str = "gate-a") -> list[dict[str, Any]]:
    return [dict(r) for r in office.store.db.query(
        "SELECT slot, day, beats, backlog_max, backlog_last, faults FROM heartbeats "
        "WHERE station = :s ORDER BY slot", {"s": station})]


@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Office:
    """gate-a beats every minute 07:00–07:59 except 07:20–07:44 (a 26-minute silence);
    its backlog climbs to 12 at 07:05 and its camera fails 07:50–07:52."""
    town = Office(tmp_path)
    for minute in range(60):
        if 20 <= minute < 45:
            continue
        faults = ["camera"] if 50 <= minute <= 52 else []
        if minute == 51:
            faults.append("thermometer")
        beat(town, "gate-a", MORNING + dt.timedelta(minutes=minute),
             12 if minute == 5 else minute % 3, faults, monkeypatch)
    beat(town, "gate-b", MORNING, 4, None, monkeypatch)
    monkeypatch.undo()
    return town


def test_a_slot_per_ten_minutes_with_its_largest_and_last_backlog_and_faults(
        office: Office) -> None:
    rows = slots(office)
    assert [r["slot"] for r in rows] == [f"{DAY}T07:{m}0" for m in (0, 1, 4, 5)]
    assert [r["beats"] for r in rows] == [10, 10, 5, 10]
    assert rows[0]["backlog_max"] == 12 and rows[0]["backlog_last"] == 9 % 3
    assert rows[3]["faults"] == '["camera", "thermometer"]'  # every device of the slot
    assert all(r["day"] == DAY for r in rows)
    assert len(slots(office, "gate-b")) == 1


def test_the_station_page_shows_backlog_silences_and_faults(office: Office) -> None:
    office.login()
    page = page_of(office, f"/office/station/gate-a?date={DAY}")
    history = page.split('id="history"')[1].split("</table>")[0]
    assert history.count("<svg") == 2  # the day's charts: backlog, faulty devices per hour
    gaps = re.findall(r'<tr class="gap"><td>([^<]+)</td><td>([^<]+)</td>'
                      r'<td class="num">(\d+)</td>', page)
    assert gaps[0] == ("00:00:00", "07:00:00", "420")  # nothing since midnight
    assert gaps[1] == ("07:19:00", "07:45:00", "26")
    assert gaps[2] == ("07:59:00", "24:00:00", "961")  # nothing after, to the day's end
    hours = page.split('<table class="fault-hours">')[1].split("</table>")[0]
    assert "07:00" in hours and "camera, thermometer" in hours
    quiet = page_of(office, "/office/station/gate-a?date=2021-02-21")
    assert "当天没有心跳" in quiet


def test_the_station_health_history_export(office: Office) -> None:
    office.login()
    answer = office.client.get(f"/office/station/gate-a?date={DAY}&format=xlsx&part=health")
    assert answer.status_code == 200
    rows = rows_of_xlsx(answer.content)
    assert "gate-a" in str(rows[0][0]) and len(rows) == 2 + 4
    assert rows[2][:6] == [f"{DAY} 07:00", "07:00:00", "07:09:00", 10, 12, 0]
    assert rows[5][6] == "camera, thermometer"
    records = rows_of_xlsx(office.client.get(
        f"/office/station/gate-a?date={DAY}&format=xlsx").content)
    assert records[1] != rows[1]  # without part=health: the records, as before
    assert office.client.get(
        f"/office/station/gate-a?date={DAY}&format=xlsx&part=x").status_code == 400


def test_the_health_page_has_the_district_day(office: Office) -> None:
    office.login()
    page = page_of(office, f"/office/health?date={DAY}")
    assert page.count("<svg") == 2  # the town's backlog; stations heard and with faults
    gate_a = re.search(r'gate-a</a></td>(.*?)</tr>', page, re.S)
    assert gate_a
    numbers = re.findall(r'<td class="num[^"]*">(?:<a [^>]+>)?(\d+)', gate_a.group(1))
    assert numbers[-5:] == ["35", "12", "3", "961", "1"]  # beats, backlog, gaps, longest, hours
    rows = rows_of_xlsx(office.client.get(f"/office/health?date={DAY}&format=xlsx").content)
    (row,) = [r for r in rows[2:] if r[0] == "gate-a"]
    assert row[-5:] == [35, 12, 3, 961, 1]


def test_heartbeat_slots_go_with_the_records_of_their_day(office: Office,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    beat(office, "gate-a", MORNING + dt.timedelta(days=1), 1, None, monkeypatch)
    monkeypatch.undo()
    assert len(slots(office)) == 5
    office.store.purge(dt.date.fromisoformat(DAY), "test")
    assert len(slots(office)) == 5  # nothing before the day
    office.store.purge(dt.date.fromisoformat(DAY) + dt.timedelta(days=1), "test")
    assert [r["day"] for r in slots(office)] == ["2021-02-23"]
    assert slots(office, "gate-b") == []
    (purge, *_) = [a for a in office.store.audit_log() if a["action"] == "purge"]
    assert purge["detail"].endswith(", 5 heartbeat slots")


def test_db_upgrade_from_schema_4_adds_the_history(tmp_path: Path, town_engine: str) -> None:
    where = new_town_db(tmp_path / "town.db")
    store = SqlTownStore(where)
    store.add_station("gate-a", "x")
    with store.db.transaction() as tx:  # a schema-4 database
        tx.run("DROP TABLE heartbeats")
        tx.run("DROP INDEX records_when_day")  # schema 6's
        tx.run("DROP INDEX records_alarm_when")
        tx.run("UPDATE alembic_version SET version_num = '0004'")
    store.close()
    if town_engine == "sqlite":
        with sqlite3.connect(where) as conn:
            conn.execute("PRAGMA user_version = 4")
    said: list[str] = []
    assert upgrade_database(where, said.append) == 4
    assert len(said) == 3 and "migrated schema 4 → 5" in said[0]
    assert "migrated schema 5 → 6" in said[1] and "migrated schema 6 → 7" in said[2]
    assert SCHEMA_VERSION == 7
    store = SqlTownStore(where)
    store.heartbeat("gate-a", {"time": "x", "clock_synced": True, "version": "0.3.0",
                               "backlog": 2, "faults": [], "bundle_version": None})
    assert store.db.query("SELECT beats, backlog_max FROM heartbeats", {})[0]["beats"] == 1
    store.close()
