"""The station's sync client against a real town-server on loopback."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from station import config as config_module
from station.ledger import Ledger
from sync.client import DRAIN_BATCH, MAX_PUSH_BYTES, SyncClient, backoff_delay, entry_json
from sync.town.store import SqliteTownStore
from tests import bundlesign
from tests.townkit import (
    ROOT,
    ChaosProxy,
    Faults,
    TownProcess,
    fill_ledger,
    station_setup,
    town_cli,
)


@pytest.fixture
def town(tmp_path: Path) -> Iterator[TownProcess]:
    process = TownProcess(tmp_path / "town.db").start()
    yield process
    process.stop()


def make_client(tmp_path: Path, url: str, token: str, **town: Any) -> SyncClient:
    station_dir = tmp_path / "station"
    station_dir.mkdir(exist_ok=True)
    config = config_module.load(station_setup(station_dir, url, token, **town))
    return SyncClient(config, rng=random.Random(0))


def drain(client: SyncClient) -> None:
    """Push until nothing is left (no retention purge, unlike `run(once=True)`)."""
    for _ in range(1000):
        wait = client.push_once()
        if client.state.blocked or (wait is None and client.backlog() == 0):
            return
    raise AssertionError("did not drain")


def register(town: TownProcess, station: str = "gate-a") -> str:
    return town_cli("stations", "add", station, "--enterprise", "红炉机械厂", "--db",
                    str(town.db))


def server_seqs(town: TownProcess, epoch: str, station: str = "gate-a") -> list[int]:
    store = SqliteTownStore(town.db)
    try:
        return [seq for seq, _ in store.epoch_records(station, epoch)]
    finally:
        store.close()


def test_push_marks_synced_only_what_the_town_acked(tmp_path: Path, town: TownProcess) -> None:
    client = make_client(tmp_path, town.url, register(town))
    fill_ledger(client.ledger.path, 450, alarms_every=100)
    assert client.backlog() == 450
    assert client.run(once=True) == 0  # pushes everything, then purges (records are old)
    assert client.backlog() == 0 and client.state.pushed == 450
    assert server_seqs(town, client.ledger.epoch) == list(range(1, 451))
    store = SqliteTownStore(town.db)
    first_ids = store.entries(limit=4)
    assert [r["kind"] for r in first_ids] == ["alarm"] * 4  # alarms were pushed first
    store.close()
    client.close()


def test_server_content_equals_the_ledger(tmp_path: Path, town: TownProcess) -> None:
    client = make_client(tmp_path, town.url, register(town))
    fill_ledger(client.ledger.path, 20)
    drain(client)
    store = SqliteTownStore(town.db)
    stored = {r["seq"]: r for r in store.entries()}
    for record in client.ledger.all_records():
        sent = entry_json(record)
        assert all(stored[record.seq][key] == value for key, value in sent.items())
    assert len(stored) == 20
    store.close()
    client.close()


def test_an_unknown_token_stops_pushing_then_a_rotated_token_is_picked_up(
        tmp_path: Path, town: TownProcess) -> None:
    token = register(town)
    client = make_client(tmp_path, town.url, "wrong-token", blocked_retry_s=0.3)
    fill_ledger(client.ledger.path, 10)
    assert client.run(once=True) == 1
    assert client.state.blocked is not None and client.state.blocked.startswith("sync: 401")
    assert client.backlog() == 10 and "sync" in client.faults()
    wait = client.push_once()  # not retried before town.blocked_retry_s
    assert wait is not None and 0 < wait <= 0.3 and client.backlog() == 10
    client.token_path.write_text(token + "\n")  # the administrator puts the new token in
    time.sleep(0.35)
    drain(client)  # no restart: the token file was re-read
    assert client.backlog() == 0 and client.state.blocked is None
    assert "sync" not in client.faults()
    client.close()


def test_a_conflict_stops_pushing(tmp_path: Path, town: TownProcess) -> None:
    client = make_client(tmp_path, town.url, register(town))
    fill_ledger(client.ledger.path, 5)
    drain(client)
    client.ledger._conn.execute("UPDATE records SET temperature_c = 39.9, synced = 0 "
                                "WHERE seq = 3")
    drain(client)
    assert client.state.blocked is not None and client.state.blocked.startswith("sync: 409")
    assert client.backlog() == 1
    client.close()


def _big_faults(client: SyncClient, count: int) -> None:
    rng = random.Random(5)
    from station.ledger import Record

    with Ledger(client.ledger.path) as ledger:  # incompressible 12 KB details: 2.4 MB a batch
        ledger.append(*(Record(kind="fault", time="2021-02-01T07:00:00.000+08:00",
                               day="2021-02-01", clock_synced=True,
                               detail=rng.randbytes(6000).hex()) for _ in range(count)))


def test_413_halves_the_batch(tmp_path: Path, town: TownProcess,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    # a client that believes the limit is 4 MiB: the town's 1 MiB limit answers 413
    monkeypatch.setattr("sync.client.MAX_PUSH_BYTES", 4 * 1024 * 1024)
    client = make_client(tmp_path, town.url, register(town))
    _big_faults(client, 200)
    assert client.push_once() == 0.0 and client.state.batch == 100
    assert client.backlog() == 200  # a 413 marks nothing
    assert client.run(once=True) == 0 and client.backlog() == 0
    assert client.state.batch <= 50  # it never grew back to a size the town refused
    client.close()


def test_a_push_stops_at_the_body_limit(tmp_path: Path, town: TownProcess) -> None:
    """A batch whose JSON would pass 1 MiB is cut to the records that fit: no 413, and only
    the records sent are marked synced."""
    client = make_client(tmp_path, town.url, register(town))
    _big_faults(client, 200)
    assert client.push_once() is None
    sent = 200 - client.backlog()
    assert 12_000 * sent < MAX_PUSH_BYTES < 12_500 * (sent + 1)  # each record is ~12.3 KB
    assert [seq for seq, synced in client.ledger.sync_marks() if synced] == \
        list(range(1, sent + 1))
    assert client.run(once=True) == 0 and client.backlog() == 0
    assert client.state.pushed == 200 and client.state.duplicates == 0
    client.close()


def test_a_long_backlog_goes_in_larger_batches(tmp_path: Path, town: TownProcess) -> None:
    """Full batches double the batch up to DRAIN_BATCH; once caught up it is town.batch."""
    client = make_client(tmp_path, town.url, register(town))
    fill_ledger(client.ledger.path, 6000)
    sizes = []
    while client.backlog():
        before = client.backlog()
        assert client.push_once() is None
        sizes.append(before - client.backlog())
    assert sizes == [200, 400, 800, 1600, DRAIN_BATCH, 1000]
    assert client.state.batch == 200  # the last batch was not full: caught up
    client.close()


def test_retry_after_is_obeyed_and_5xx_backs_off(tmp_path: Path, town: TownProcess) -> None:
    token = register(town)
    with ChaosProxy(town.port, Faults(busy_503=1.0)) as proxy:
        client = make_client(tmp_path, proxy.url, token)
        fill_ledger(client.ledger.path, 3)
        assert client.push_once() == 1.0  # Retry-After: 1
        client.close()
    with ChaosProxy(town.port, Faults(error_500=1.0)) as proxy:
        client = make_client(tmp_path, proxy.url, token)
        waits = [client.push_once() for _ in range(6)]
        caps = [min(0.5, 0.05 * 2 ** n) for n in range(6)]
        assert all(w is not None and 0 <= w <= cap for w, cap in zip(waits, caps, strict=True))
        assert client.backlog() == 3
        client.close()


def test_full_jitter_backoff() -> None:
    rng = random.Random(1)
    for attempt in range(12):
        delays = [backoff_delay(attempt, 2.0, 300.0, rng) for _ in range(200)]
        ceiling = min(300.0, 2.0 * 2 ** attempt)
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range


def test_a_real_town_signs_its_bundle_online_when_rules_change(tmp_path: Path) -> None:
    """The town half of the signed bundle, end to end over HTTP (the station's checks of
    it are the station's own tests)."""
    import httpx

    from sync.town.signing import load_bundle_public_key, open_envelope

    keys = tmp_path / "keys"
    town_cli("keys", "new", "--purpose", "bundle", "--out", str(keys))
    (key_file,) = keys.glob("bundle-*.key")
    town = TownProcess(tmp_path / "town.db", bundle_key=key_file).start()
    try:
        token = register(town)
        town_cli("rules", "set", "fever_threshold_c", "37.5", "--db", str(town.db))
        town_cli("revoke", "W0000009", "--db", str(town.db))
        url = f"{town.url}/api/v1/stations/gate-a/bundle"
        answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        opened = open_envelope(answer.json(), load_bundle_public_key(key_file.with_suffix(
            ".pub")), "answer")
        assert opened.document["rules"] == {"fever_threshold_c": 37.5}
        assert opened.document["trust"]["revocations"][0]["sub"] == "W0000009"
        town_cli("rules", "set", "fever_threshold_c", "37.6", "--db", str(town.db))
        again = httpx.get(url, headers={"Authorization": f"Bearer {token}",
                                        "If-None-Match": answer.headers["etag"]})
        assert again.status_code == 200
        newer = open_envelope(again.json(), load_bundle_public_key(key_file.with_suffix(
            ".pub")), "answer")
        assert newer.serial > opened.serial and newer.document["rules"]["fever_threshold_c"] \
            == 37.6
    finally:
        town.stop()


def test_a_signed_bundle_is_applied_whole_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    key = bundlesign.new_key()
    (tmp_path / "bundle.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    town = TownProcess(tmp_path / "town.db", bundle_key=tmp_path / "bundle.pem").start()
    try:
        client = make_client(tmp_path, town.url, register(town),
                             bundle_keys=json.dumps([bundlesign.spki(key)]))
        town_cli("rules", "set", "fever_threshold_c", "37.5", "--db", str(town.db))
        town_cli("revoke", "W0000009", "--db", str(town.db))
        assert client.pull_bundle() and client.state.bundle_outcome == "applied"
        on_disk = json.loads(client.bundle_path.read_text())
        assert on_disk["rules"] == {"fever_threshold_c": 37.5} and on_disk["serial"] >= 1
        assert on_disk["trust"]["revocations"][0]["sub"] == "W0000009"
        before = client.bundle_path.read_bytes()
        assert client.pull_bundle() and client.state.bundle_outcome == "unchanged"  # 304
        store = SqliteTownStore(town.db)
        store.set_rule("fever_threshold_c", "very hot")  # bypassing the CLI's check
        store.close()
        assert client.pull_bundle() and client.state.bundle_outcome == "kept"
        assert client.bundle_path.read_bytes() == before
        assert "bundle" in client.faults()
        client.close()
    finally:
        town.stop()


def test_heartbeat_reports_backlog_and_open_device_faults(tmp_path: Path,
                                                          town: TownProcess) -> None:
    client = make_client(tmp_path, town.url, register(town))
    from station.ledger import Record

    fault: dict[str, Any] = {"kind": "fault", "time": "2021-02-01T07:00:00.000+08:00",
                             "day": "2021-02-01", "clock_synced": False}
    client.ledger.append(Record(**fault, device="camera",
                                detail="camera stopped delivering frames"),
                         Record(**fault, device="thermometer", detail="I2C error"),
                         Record(**fault, device="camera", detail="recovered"),
                         Record(**fault, device="ledger", detail="recovered; it could not be "
                                "written from …; people turned away unrecorded: 1"))
    assert client.heartbeat()
    store = SqliteTownStore(town.db)
    (status,) = store.stations()
    assert status.heartbeat["backlog"] == 4 and status.heartbeat["faults"] == ["thermometer"]
    assert status.heartbeat["clock_synced"] in (True, False)
    store.close()
    client.close()


def test_retention_purges_only_synced_records(tmp_path: Path, town: TownProcess) -> None:
    client = make_client(tmp_path, town.url, register(town))
    fill_ledger(client.ledger.path, 300)
    client.state.batch = 100
    client.push_once()  # only 1..100 reach the town
    assert client.backlog() == 200
    purged = client.housekeeping(today=dt.date(2021, 6, 1))  # all records are months old
    assert purged == 100 and client.ledger.count() == 200 and client.backlog() == 200
    seqs = [r.seq for r in client.ledger.all_records()]
    assert seqs[0] == 101  # the unsynced ones survive whatever their age
    client.close()


def test_the_size_cap_raises_a_loud_fault_and_deletes_nothing(tmp_path: Path,
                                                              town: TownProcess) -> None:
    client = make_client(tmp_path, town.url, register(town))
    fill_ledger(client.ledger.path, 3000)
    client.config = client.config.model_copy(update={"ledger": client.config.ledger.model_copy(
        update={"max_mb": 1})})
    client.housekeeping(today=dt.date(2021, 2, 1))
    assert client.state.faults["ledger"].startswith("ledger-size:")
    assert "ledger" in client.faults()
    assert client.ledger.count() == 3000
    client.close()


def test_sync_command_needs_a_town(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"station:\n  locale: en\nledger:\n  path: {tmp_path / 'l.db'}\n")
    result = subprocess.run([sys.executable, "-c", "from station.cli import main; main()",
                             "sync", "--once", "--config", str(config)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "town.url is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_tokens_never_reach_the_server_log(tmp_path: Path, town: TownProcess) -> None:
    token = register(town)
    admin = town_cli("admin-token", "new", "--db", str(town.db))
    client = make_client(tmp_path, town.url, token)
    fill_ledger(client.ledger.path, 5)
    client.run(once=True)
    client.close()
    import httpx

    httpx.get(f"{town.url}/api/v1/stations", headers={"Authorization": f"Bearer {admin}"})
    httpx.get(f"{town.url}/api/v1/entries?station=gate-a",
              headers={"Authorization": f"Bearer {admin}"})
    town.stop()
    log = town.log.read_text()
    assert "POST /api/v1/stations/gate-a/entries" in log  # the access log is there
    assert token not in log and admin not in log


def test_a_station_whose_clock_never_synced_still_pushes(tmp_path: Path,
                                                         town: TownProcess) -> None:
    from station.clock import VirtualClock

    token = register(town)
    station_dir = tmp_path / "station"
    station_dir.mkdir()
    config = config_module.load(station_setup(station_dir, town.url, token))
    clock = VirtualClock(synced=False)  # a Pi after a power cut, NTP never answered
    client = SyncClient(config, clock=clock, rng=random.Random(0))
    from station.ledger import Record

    clock.sleep(30)
    client.ledger.append(Record(kind="entry", time="1970-01-01T08:00:30.000+08:00",
                                day="1970-01-01", clock_synced=False, boot_id=clock.boot_id,
                                boottime_ns=clock.boottime_ns(), decision="deny",
                                reasons=("no-code",)))
    clock.sleep(10)  # pushed ten seconds later
    drain(client)
    assert client.backlog() == 0
    store = SqliteTownStore(town.db)
    (row,) = store.entries()
    store.close()
    assert row["time"].startswith("1970") and row["clock_synced"] is False
    corrected = dt.datetime.fromisoformat(row["corrected_time"])
    received = dt.datetime.fromisoformat(row["received"])
    assert abs((received - corrected).total_seconds() - 10) < 1  # re-timed by boot time
    client.close()
