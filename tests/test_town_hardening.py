"""The town server never answers 500 and gives nothing away (sync.md v1.1, issue 9): hostile
bodies, numbers, dates, ids and headers; CSV formulas; tokens and their lifecycle; retention;
write-offs; simulated records; file modes."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.town.app import create_app
from tests.test_town_server import EPOCH, Town, entry, push_body
from tests.townkit import ROOT

BIG = 2**63
pytestmark = pytest.mark.usefixtures("town_engine")  # every test on SQLite and PostgreSQL


@pytest.fixture
def town(tmp_path: Path) -> Town:
    return Town(tmp_path)


def assert_4xx_json(response: Any, *words: str) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    detail = json.dumps(response.json()["detail"]).lower()
    for word in words:
        assert word.lower() in detail, detail


def still_up(town: Town, seq: int = 1000) -> None:
    answer = town.push(push_body(entry(seq), epoch=str(uuid.uuid4())))
    assert answer.status_code == 200
    page = town.client.get("/api/v1/entries", headers=town.admin_headers)
    assert page.status_code == 200
    assert town.client.get("/api/v1/stations", headers=town.admin_headers).status_code == 200


# -- the review's 500s -----------------------------------------------------------------------


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_400_and_break_no_read(town: Town, constant: bytes) -> None:
    body = json.dumps(push_body(entry(1, temperature_c=0.5))).encode().replace(b"0.5", constant)
    assert_4xx_json(town.push(body), "not json")
    assert town.stored() == []
    still_up(town)


def test_a_heartbeat_of_the_wrong_shape_is_400_and_nothing_crashes(town: Town) -> None:
    headers = {"Authorization": f"Bearer {town.token_a}"}
    good = {"time": "2021-02-01T07:31:00+08:00", "clock_synced": True, "version": "0.3.0",
            "backlog": 1, "faults": ["thermometer"], "bundle_version": None}
    for bad, word in (({**good, "faults": 5}, "faults"), ({**good, "faults": [5]}, "faults"),
                      ({**good, "backlog": "many"}, "backlog"),
                      ({**good, "backlog": BIG}, "backlog"),
                      ({**good, "time": "0001-01-01T00:00:00+23:59"}, "time"),
                      ({**good, "clock_synced": "yes"}, "clock_synced"),
                      ({**good, "version": "0.3\ud800"}, "version"),
                      ({**good, "bundle_version": "\udfff"}, "bundle_version"),
                      ([good], "object")):
        response = town.client.post("/api/v1/stations/gate-a/heartbeat",
                                    content=json.dumps(bad),  # ASCII: \ud800 stays escaped
                                    headers={**headers, "Content-Type": "application/json"})
        assert_4xx_json(response, word)
    assert town.client.post("/api/v1/stations/gate-a/heartbeat", json=good,
                            headers=headers).status_code == 204
    # a heartbeat stored by an older server, before validation: pages still work
    with town.store.db.transaction() as tx:
        tx.run("UPDATE stations SET heartbeat = :beat WHERE id = 'gate-b'",
               {"beat": json.dumps({"faults": 5, "backlog": "x", "bundle_version": 3})})
    listing = town.client.get("/api/v1/stations", headers=town.admin_headers).json()
    b = next(s for s in listing if s["id"] == "gate-b")
    assert (b["faults"], b["backlog"], b["bundle_version"]) == ([], None, None)
    town.login()
    assert town.client.get("/").status_code == 200
    from click.testing import CliRunner

    from sync.town.cli import main

    result = CliRunner().invoke(main, ["stations", "list", "--db", str(town.store.path)])
    assert result.exit_code == 0 and "gate-b" in result.output


def test_after_beyond_64_bits_is_a_4xx(town: Town) -> None:
    for path in (f"/api/v1/entries?after={BIG}", f"/api/v1/alarms?after={BIG}",
                 f"/api/v1/entries?after={10**40}", "/api/v1/entries?limit=-1"):
        assert_4xx_json(town.client.get(path, headers=town.admin_headers))
    assert town.client.get(f"/api/v1/entries?after={BIG - 1}", headers=town.admin_headers
                           ).json() == {"entries": [], "next_after": None}


@pytest.mark.parametrize("station", ["红炉", "gate-a%00", "%FF", "a" * 300, "gate a"])
def test_odd_station_ids_in_the_path_are_4xx(town: Town, station: str) -> None:
    for method, what in (("post", "entries"), ("get", "bundle"), ("post", "heartbeat")):
        response = town.client.request(method, f"/api/v1/stations/{station}/{what}",
                                       json={}, headers={"Authorization":
                                                         f"Bearer {town.token_a}"})
        assert 400 <= response.status_code < 500 and response.json()["detail"]
    still_up(town)


def test_json_nested_100000_deep_is_400(town: Town) -> None:
    body = b'{"epoch": "e", "clock": {}, "entries": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_4xx_json(town.push(body), "nested")
    shallow = push_body(entry(1, detail=None))
    shallow["entries"][0]["extra"] = json.loads("[" * 40 + "]" * 40)
    assert_4xx_json(town.push(shallow), "nested")
    still_up(town)


def test_integers_beyond_64_bits(town: Town) -> None:
    assert_4xx_json(town.push(push_body(entry(BIG))), "seq")
    assert_4xx_json(town.push(b'{"epoch":"e","clock":{},"entries":[{"seq":' + b"9" * 5000
                              + b"}]}"), "json")
    answer = town.push(push_body(entry(1, temperature_c=BIG), entry(2, boottime_ns=BIG),
                                 entry(3, temperature_c=-BIG * 10), entry(4, occupants=BIG)))
    assert answer.status_code == 200
    assert answer.json()["quarantined"] == [1, 2, 3, 4]
    clock = push_body(entry(5, clock_synced=False))
    clock["clock"]["boottime_ns"] = BIG * 1000
    assert town.push(clock).json()["acked_through"] == 5
    still_up(town)


def test_a_lone_surrogate_in_a_record_is_quarantined_not_a_500(town: Town) -> None:
    """JSON may escape half a UTF-16 pair (`\\ud800`), which no UTF-8 text can hold: the
    record goes to quarantine with its raw JSON (escaped), the others are stored."""
    body = json.dumps(push_body(entry(1), entry(2), entry(3))).replace(
        '"seq": 2,', '"seq": 2, "subject": "W\\ud800", "x": "\\udfff",').encode()
    assert b"\\ud800" in body
    answer = town.push(body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["quarantined"] == [2] and answer.json()["acked_through"] == 3
    assert town.push(body).json()["duplicates"] == 3  # the same again: duplicates, no 409
    rows = town.client.get("/api/v1/entries", headers=town.admin_headers).json()["entries"]
    bad = [row for row in rows if row["quarantined"]]
    assert len(bad) == 1 and "surrogate" in bad[0]["error"]
    other = body.replace(b'"x": "\\udfff"', b'"x": "\\udbff"')  # the same seq, another surrogate
    assert other != body
    assert town.push(other).status_code == 409  # other content: a conflict, not a duplicate
    still_up(town)


@pytest.mark.parametrize("epoch", ["\\ud800abc", "e\\u0000f", "e\\nf", "\\udfff"])
def test_an_epoch_no_database_can_hold_is_400_not_500(town: Town, epoch: str) -> None:
    """A lone surrogate (no UTF-8 text holds it) or a control character (PostgreSQL text holds
    no NUL) in `epoch`: a 400 naming the field, before anything is written."""
    body = json.dumps(push_body(entry(1))).replace('"epoch": "', f'"epoch": "{epoch}', 1)
    assert epoch in body
    assert_4xx_json(town.push(body.encode()), "epoch")
    still_up(town)


@pytest.mark.parametrize("when", [
    "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59+23:59", "0001-01-01T00:00:00+00:00", "9999-12-31T20:00:00+08:00"])
def test_times_at_the_ends_of_the_calendar(town: Town, when: str) -> None:
    answer = town.push(push_body(entry(1, time=when)))
    assert answer.status_code == 200 and answer.json()["acked_through"] == 1
    still_up(town)
    town.login()
    assert town.client.get("/").status_code == 200
    assert town.client.get("/api/v1/entries?format=csv", headers=town.admin_headers
                           ).status_code == 200


# -- any bytes, any headers: never a 5xx -----------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["seq", "epoch", "clock", "entries", "time", "kind",
                                      "event_id", "faults", "backlog", "simulated",
                                      "temperature_c", "boottime_ns", "clock_synced"])
                      | st.text(max_size=8), children, max_size=6),
    max_leaves=25)
ENDPOINTS = [("post", "/api/v1/stations/{s}/entries"), ("get", "/api/v1/stations/{s}/bundle"),
             ("post", "/api/v1/stations/{s}/heartbeat"), ("get", "/api/v1/stations"),
             ("get", "/api/v1/entries"), ("get", "/api/v1/alarms"), ("get", "/"),
             ("get", "/live"), ("post", "/login"), ("post", "/logout"), ("get", "/docs"),
             ("get", "/openapi.json"), ("get", "/docs/assets/swagger-ui.css")]


@pytest.fixture(scope="module")
def fuzz_town(tmp_path_factory: pytest.TempPathFactory, town_engine: str) -> Town:
    return Town(tmp_path_factory.mktemp("fuzz"))


def _entries_like(draw: Any) -> Any:
    return {"epoch": draw(st.text(max_size=70)), "clock": draw(JSON_VALUES),
            "entries": draw(st.lists(st.fixed_dictionaries(
                {"seq": st.integers(min_value=-3, max_value=2**64)},
                optional={"time": st.text(max_size=30) | st.sampled_from(
                    ["0001-01-01T00:00:00+23:59", "2021-02-01T07:00:00+08:00"]),
                    "kind": st.sampled_from(["entry", "ack", "alarm", "x"]),
                    "event_id": st.text(max_size=5), "temperature_c": JSON_VALUES,
                    "clock_synced": JSON_VALUES, "boottime_ns": JSON_VALUES,
                    "reasons": JSON_VALUES}), max_size=4, unique_by=lambda e: repr(e["seq"]))),
            "simulated": draw(JSON_VALUES)}


@st.composite
def requests(draw: Any) -> tuple[str, str, bytes, dict[str, str], dict[str, str]]:
    method, template = draw(st.sampled_from(ENDPOINTS))
    station = draw(st.sampled_from(["gate-a", "gate-b", "", "红炉"]) | st.text(
        alphabet=st.characters(exclude_categories=["Cs"]), max_size=12))
    path = template.format(s=quote(station, safe=""))
    shape = draw(st.sampled_from(["json", "entries", "bytes"]))
    if shape == "json":
        body = json.dumps(draw(JSON_VALUES)).encode()
    elif shape == "entries":
        body = json.dumps(_entries_like(draw)).encode()
    else:
        body = draw(st.binary(max_size=200))
    token = draw(st.sampled_from(["station", "admin", "other", "junk", "none"]))
    headers = {"X-Token-Kind": token}
    for name in draw(st.lists(st.sampled_from(["Content-Encoding", "Content-Type",
                                               "If-None-Match", "X-Forwarded-Proto",
                                               "Cookie", "Accept-Encoding"]), max_size=3)):
        headers[name] = draw(st.text(alphabet=st.characters(min_codepoint=32,
                                                            max_codepoint=126), max_size=30))
    params = draw(st.dictionaries(st.sampled_from(["after", "limit", "since", "until", "kind",
                                                   "format", "handled", "station",
                                                   "enterprise"]),
                                  st.text(max_size=12) | st.integers(-BIG * 2, BIG * 2).map(
                                      str), max_size=4))
    return method, path, body, headers, params


@settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=requests())
def test_no_request_gets_a_5xx_and_the_next_good_one_works(
        fuzz_town: Town, request: tuple[str, str, bytes, dict[str, str], dict[str, str]]
) -> None:
    method, path, body, headers, params = request
    town = fuzz_town
    kind = headers.pop("X-Token-Kind")
    token = {"station": town.token_a, "admin": town.admin, "other": town.token_b,
             "junk": "x" * 40}.get(kind)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = town.client.request(method, path, content=body if method == "post" else None,
                                   headers=headers, params=params)
    assert response.status_code < 500, (method, path, response.status_code, response.text)
    if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
        assert response.json()["detail"]
    good = town.client.post("/api/v1/stations/gate-a/heartbeat", json={
        "time": "2021-02-01T07:31:00+08:00", "clock_synced": True, "version": "1",
        "backlog": 0, "faults": [], "bundle_version": None},
        headers={"Authorization": f"Bearer {town.token_a}"})
    assert good.status_code == 204


# -- ingest: same content, new kinds, simulated records ---------------------------------------


def test_masked_fields_and_fields_of_one_version_do_not_conflict(town: Town) -> None:
    first = entry(1, kind="visitor", name="张三", phone="13812345678", host="HR")
    assert town.push(push_body(first)).status_code == 200
    masked = {**first, "name": "张*", "phone": "138****5678", "operator": "guard-1"}
    masked.pop("ambient_c")  # a field an older station did not send
    again = town.push(push_body(masked))
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    other = town.push(push_body({**first, "host": "Finance"}))
    assert other.status_code == 409 and "seq 1" in other.json()["detail"]
    assert town.push(push_body({**first, "temperature_c": 36.50})).json()["duplicates"] == 1
    assert town.push(push_body({**first, "clock_synced": 1})).status_code == 409


def test_vehicle_visitor_ack_and_fault_devices_are_stored(town: Town) -> None:
    records = [entry(1, kind="vehicle", plate="渝A12345", vehicle_type="truck",
                     driver_name="李*", driver_phone="139****0000", code_checked="shown",
                     occupants=1, disinfected=True, cold_chain=False, subject=None),
               entry(2, kind="visitor", name="王*", phone="137****1111", host="HR",
                     purpose="audit", code_checked="none"),
               entry(3, kind="alarm", event_id="al-3", temperature_c=38.4),
               entry(4, kind="ack", ref_event_id="al-3", action="sent-to-clinic",
                     remeasure_c=38.1),
               entry(5, kind="fault", device="thermometer", detail="I2C error"),
               entry(6, kind="vehicle", occupants=61),  # out of range: quarantined
               entry(7, kind="ack")]  # an ack without its alarm: quarantined
    answer = town.push(push_body(*records)).json()
    assert answer["acked_through"] == 7 and answer["quarantined"] == [6, 7]
    rows = town.client.get("/api/v1/entries", headers=town.admin_headers).json()["entries"]
    by_seq = {r["seq"]: r for r in rows}
    assert by_seq[1]["plate"] == "渝A12345" and by_seq[2]["purpose"] == "audit"
    assert by_seq[5]["device"] == "thermometer"
    alarms = town.client.get("/api/v1/alarms", headers=town.admin_headers).json()["alarms"]
    assert alarms[0]["ack"]["action"] == "sent-to-clinic"


def test_simulated_records_are_marked_and_never_count(town: Town) -> None:
    from tests.test_town_server import _today

    today = _today()
    answer = town.push(push_body(entry(1, time=today), entry(2, kind="alarm", time=today),
                                 simulated=True))
    assert answer.status_code == 200 and answer.json()["acked_through"] == 2
    assert_4xx_json(town.push(push_body(entry(3), simulated="yes")), "simulated")
    rows = town.client.get("/api/v1/entries", headers=town.admin_headers).json()["entries"]
    assert [r["simulated"] for r in rows] == [True, True]
    import datetime as dt

    from station.clock import CST

    assert town.store.day_summary(dt.datetime.now(CST).date()) == []
    assert town.client.get("/api/v1/alarms", headers=town.admin_headers).json()["alarms"] == []
    csv_text = town.client.get("/api/v1/entries?format=csv", headers=town.admin_headers).text
    header, *_rest = list(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert header["simulated"] == "1"
    # the same key from a real push is a conflict, not a duplicate
    assert town.push(push_body(entry(1, time=today))).status_code == 409


# -- CSV exports ------------------------------------------------------------------------------


def test_csv_cells_that_excel_would_run_are_neutralised(town: Town) -> None:
    dangerous = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB",
                 "\rCR"]
    town.push(push_body(*(entry(i + 1, subject=text, detail=text, name=text)
                          for i, text in enumerate(dangerous)),
                        entry(7, temperature_c=-1.5, reasons=["=cmd"])))
    csv_text = town.client.get("/api/v1/entries?format=csv", headers=town.admin_headers).text
    rows = list(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"))))
    for row, text in zip(rows, dangerous, strict=False):
        for column in ("subject", "detail", "name"):
            assert row[column] == "'" + text
    assert rows[6]["reasons"] == "'=cmd"
    assert rows[6]["temperature_c"] == "-1.5"  # a number is not a formula


# -- tokens, sessions, write-offs, retention ---------------------------------------------------


def test_rotate_disable_and_admin_revoke(town: Town) -> None:
    old = town.token_a
    new = town.store.rotate_token("gate-a")
    assert town.push(push_body(entry(1)), token=old).status_code == 401
    assert town.push(push_body(entry(1)), token=new).status_code == 200
    town.store.set_disabled("gate-a", True)
    refused = town.push(push_body(entry(2)), token=new)
    assert refused.status_code == 401 and "disabled" in refused.json()["detail"]
    assert [seq for seq, _ in town.stored()] == [1]  # its records are kept
    town.store.set_disabled("gate-a", False)
    assert town.push(push_body(entry(2)), token=new).status_code == 200
    assert [t.id for t in town.store.admin_tokens()] == [town.admin_id]
    town.store.revoke_admin_token(town.admin_id)
    assert town.client.get("/api/v1/entries", headers=town.admin_headers).status_code == 401
    actions = [row["action"] for row in town.store.audit_log()]
    for action in ("station-rotate-token", "station-disable", "admin-token-revoke"):
        assert action in actions


def test_write_off_closes_a_gap_and_is_audited(town: Town) -> None:
    town.push(push_body(entry(1), entry(2), entry(5), entry(6)))
    first, acked = town.store.write_off("gate-a", EPOCH, 4, "cli:test", "SD card died")
    assert (first, acked) == (3, 6)  # 3 and 4 lost, 5 and 6 were already there
    answer = town.push(push_body(entry(7))).json()
    assert answer["acked_through"] == 7
    late = town.push(push_body(entry(3))).json()  # found after all: stored, not dropped
    assert late["accepted"] == 1 and late["acked_through"] == 7
    (audit,) = [r for r in town.store.audit_log() if r["action"] == "write-off"]
    assert "SD card died" in audit["detail"] and audit["who"] == "cli:test"
    from sync.town.db import StoreError

    with pytest.raises(StoreError, match="nothing to write off"):
        town.store.write_off("gate-a", EPOCH, 7, "cli:test", "again")


def test_purge_deletes_old_records_and_acked_through_never_goes_down(town: Town) -> None:
    import datetime as dt

    old, recent = "2021-02-01T07:00:00.000+08:00", "2021-03-01T07:00:00.000+08:00"
    town.push(push_body(entry(1, time=old), entry(2, kind="alarm", time=old),
                        entry(4, time=old), entry(5, time=recent)))
    assert town.stored()[-1][0] == 5
    gone = town.store.purge(dt.date(2021, 2, 15), "cli:test")
    assert gone == 3
    assert [seq for seq, _ in town.stored()] == [5]
    assert town.client.get("/api/v1/alarms", headers=town.admin_headers).json()["alarms"] == []
    again = town.push(push_body(entry(1, time=old), entry(2, kind="alarm", time=old))).json()
    assert again["duplicates"] == 2 and again["acked_through"] == 2  # purged, not re-stored
    closed = town.push(push_body(entry(3, time=recent))).json()
    assert closed["acked_through"] == 5  # passes the purged seq 4
    assert [seq for seq, _ in town.stored()] == [3, 5]


def test_retention_days_purge_at_start(tmp_path: Path) -> None:
    from sync.town.app import Settings

    town = Town(tmp_path, Settings(retention_days=30))
    town.push(push_body(entry(1, time="2021-02-01T07:00:00.000+08:00")))
    with TestClient(create_app(town.store, Settings(retention_days=30))):
        pass  # the lifespan ran the first daily purge
    assert town.stored() == []
    assert any(r["who"] == "retention" for r in town.store.audit_log())


# -- files ------------------------------------------------------------------------------------


def test_database_and_key_files_are_0600_whatever_the_umask(tmp_path: Path) -> None:
    script = (
        "import os; os.umask(0)\n"
        "from sync.town.cli import main\n"
        "import sys; sys.argv = ['town-server'] + sys.argv[1:]; main()")
    for args in (["db", "init", "--db", str(tmp_path / "town.db")],
                 ["keys", "new", "--purpose", "bundle", "--out", str(tmp_path / "k")],
                 ["keys", "new", "--out", str(tmp_path / "k")]):
        result = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    from sync.town.store import SqliteTownStore

    store = SqliteTownStore(tmp_path / "town.db")
    store.add_station("gate-a", "x")  # the WAL and SHM files exist now
    paths = [tmp_path / "town.db", *tmp_path.glob("town.db-*"), *tmp_path.glob("k/*.key")]
    assert len(paths) >= 5
    for path in paths:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    store.close()
