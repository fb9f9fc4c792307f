"""The guard's registrations through the console: the JSON API (auth, 422 refusals that write
nothing, out records, acks, preview) and the pages (forms, inside now, alarm handling,
hand-over from a gate daemon or its absence)."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from station.clock import CST, VirtualClock
from station.console.state import Console
from station.handover import Capture, CaptureSlot, HandoverServer
from station.ledger import Ledger, Record
from tests.consolekit import (
    DAY,
    GUARD,
    GUARD_PASSWORD,
    HOSTILE_NAME,
    csrf_of,
    fill_ledger,
    log_in,
    make_app,
)

NOON = dt.datetime.combine(DAY, dt.time(12, 0), CST)


def vehicle(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "plate": "渝A·12345", "vehicle_type": "truck", "carrier": "重庆某物流",
        "driver_name": "张三", "driver_phone": "13800138000", "code_checked": "shown",
        "color": "green", "temperature_c": 36.6, "occupants": 1, "origin": "四川省成都市",
        "via_risk_area": False, "cargo": "钢材", "cold_chain": False, "disinfected": True,
        "disinfection_method": "含氯消毒液喷洒", "disinfection_operator": "李四", "host": "仓库",
    }
    form.update(changes)
    return form


def visitor(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "王五", "phone": "13912345678", "id_last4": "123X", "organisation": "供应商",
        "host": "采购部", "purpose": "送样品", "code_checked": "shown", "color": "green",
        "temperature_c": 36.4,
    }
    form.update(changes)
    return form


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Console, Any, Ledger]]:
    ledger = fill_ledger(tmp_path / "ledger.db")
    console, app = make_app(tmp_path)
    console.clock = VirtualClock(NOON)
    yield console, app, ledger
    ledger.close()
    console.accounts.close()


@pytest.fixture
def api(setup: tuple[Console, Any, Ledger]) -> TestClient:
    """An API client with a bearer token (no cookies)."""
    client = TestClient(setup[1])
    answer = client.post("/api/v1/session", json={"name": GUARD, "password": GUARD_PASSWORD})
    assert answer.status_code == 201, answer.text
    client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return client


@pytest.fixture
def guard(setup: tuple[Console, Any, Ledger]) -> TestClient:
    client = TestClient(setup[1])
    assert log_in(client, GUARD, GUARD_PASSWORD).status_code == 303
    return client


# -- the JSON API ----------------------------------------------------------------------------

def test_api_needs_a_session(setup: Any) -> None:
    client = TestClient(setup[1])
    assert client.post("/api/v1/vehicles", json=vehicle()).status_code == 401
    client.headers["Authorization"] = "Bearer not-a-token"
    assert client.post("/api/v1/vehicles", json=vehicle()).status_code == 401
    assert client.post("/api/v1/session", json={"name": GUARD, "password": "wrong"}
                       ).status_code == 401


def test_cookie_sessions_need_the_csrf_header(guard: TestClient, setup: Any) -> None:
    ledger = setup[2]
    before = ledger.count()
    refused = guard.post("/api/v1/vehicles", json=vehicle())
    assert refused.status_code == 403
    assert ledger.count() == before
    csrf = csrf_of(guard.get("/").text)
    done = guard.post("/api/v1/vehicles", json=vehicle(), headers={"X-CSRF-Token": csrf})
    assert done.status_code == 201, done.text
    assert ledger.count() == before + 1


def test_api_registers_a_vehicle_and_its_visitor_and_lets_them_out(api: TestClient,
                                                                    setup: Any) -> None:
    ledger: Ledger = setup[2]
    answer = api.post("/api/v1/vehicles", json=vehicle())
    assert answer.status_code == 201, answer.text
    car = answer.json()["record"]
    assert (car["kind"], car["plate"], car["decision"], car["operator"]) == \
        ("vehicle", "渝A12345", "admit", GUARD)
    assert answer.json()["alarm"] is None
    person = api.post("/api/v1/visitors", json=visitor(vehicle_id=car["event_id"])).json()
    assert person["record"]["vehicle_id"] == car["event_id"]
    inside = api.get("/api/v1/inside").json()
    assert [r["event_id"] for r in inside["vehicle"]] == [car["event_id"]]
    assert [r["event_id"] for r in inside["visitor"]] == [person["record"]["event_id"]]
    gone = api.post(f"/api/v1/vehicles/{car['event_id']}/out")
    assert gone.status_code == 201
    assert gone.json()["record"]["visit_id"] == car["event_id"]
    assert gone.json()["record"]["direction"] == "out"
    again = api.post(f"/api/v1/vehicles/{car['event_id']}/out")
    assert again.status_code == 422
    assert again.json()["problems"][0]["field"] == "visit_id"
    assert ledger.inside_now("vehicle") == []
    assert len(ledger.inside_now("visitor")) == 1


def test_a_refused_call_lists_every_wrong_field_and_writes_nothing(api: TestClient,
                                                                   setup: Any) -> None:
    ledger: Ledger = setup[2]
    before = ledger.count()
    answer = api.post("/api/v1/vehicles", json=vehicle(plate="渝A12I45", driver_phone="12345",
                                                       temperature_c=50, vehicle_type="tank"))
    assert answer.status_code == 422
    fields = {p["field"] for p in answer.json()["problems"]}
    assert fields == {"plate", "driver_phone", "temperature_c", "vehicle_type"}
    assert all(p["message"] for p in answer.json()["problems"])
    assert ledger.count() == before
    api.cookies.set("gs_lang", "en")
    english = api.post("/api/v1/visitors", json=visitor(phone="x", name=""))
    assert english.status_code == 422
    messages = {p["field"]: p["message"] for p in english.json()["problems"]}
    assert set(messages) == {"phone", "name"}
    assert ledger.count() == before
    assert api.post("/api/v1/acks", json={"ref_event_id": "nope", "action": "other"}
                    ).status_code == 422
    assert api.post("/api/v1/vehicles", content=b"[1]").status_code == 400
    assert ledger.count() == before


def test_preview_decides_without_writing(api: TestClient, setup: Any) -> None:
    ledger: Ledger = setup[2]
    before = ledger.count()
    answer = api.post("/api/v1/vehicles?preview=1", json=vehicle(disinfected=False,
                                                                  temperature_c=38.2))
    assert answer.status_code == 200
    assert answer.json()["record"]["decision"] == "deny"
    assert answer.json()["record"]["reasons"] == ["fever", "not-disinfected"]
    assert answer.json()["record"]["seq"] is None
    assert ledger.count() == before


def test_a_fever_writes_an_alarm_and_an_ack_handles_it(api: TestClient, setup: Any) -> None:
    ledger: Ledger = setup[2]
    answer = api.post("/api/v1/visitors", json=visitor(temperature_c=38.0)).json()
    alarm = answer["alarm"]
    assert alarm["kind"] == "alarm" and alarm["seq"] == answer["record"]["seq"] + 1
    unhandled = api.get("/api/v1/alarms/unhandled").json()["alarms"]
    assert alarm["event_id"] in [a["event_id"] for a in unhandled]
    ack = api.post("/api/v1/acks", json={"ref_event_id": alarm["event_id"],
                                         "action": "sent-to-clinic", "remeasure_c": 38.1,
                                         "note": "村卫生室"})
    assert ack.status_code == 201, ack.text
    assert ack.json()["record"]["operator"] == GUARD
    latest = ledger.latest_ack(alarm["event_id"])
    assert latest is not None and latest.action == "sent-to-clinic"
    remaining = api.get("/api/v1/alarms/unhandled").json()["alarms"]
    assert alarm["event_id"] not in [a["event_id"] for a in remaining]


def test_capture_without_a_daemon_says_so(api: TestClient) -> None:
    answer = api.post("/api/v1/capture")
    assert answer.status_code == 503
    assert "daemon" in answer.json()["detail"] or "switched off" in answer.json()["detail"]


# -- the pages -------------------------------------------------------------------------------

def form_of(client: TestClient, path: str, **fields: Any) -> dict[str, Any]:
    data = {k: ("true" if v is True else "" if v is False else str(v)) for k, v in fields.items()}
    data["csrf"] = csrf_of(client.get(path).text)
    return data


def test_guard_sees_the_registration_pages(guard: TestClient) -> None:
    for path in ("/vehicles/new", "/visitors/new", "/inside", "/alarms"):
        page = guard.get(path)
        assert page.status_code == 200, path
        assert "<script>" not in page.text and " style=" not in page.text
    vehicle_page = guard.get("/vehicles/new").text
    assert vehicle_page.count('class="province"') == 31
    assert '/static/registration.js' in vehicle_page
    assert "inputmode=\"decimal\"" in vehicle_page


def test_the_vehicle_form_shows_the_decision_then_saves(guard: TestClient, setup: Any) -> None:
    ledger: Ledger = setup[2]
    before = ledger.count()
    data = form_of(guard, "/vehicles/new", **vehicle(disinfected=False))
    checked = guard.post("/vehicles/new", data={**data, "step": "check"})
    assert checked.status_code == 200
    assert 'id="preview"' in checked.text and 'id="save"' in checked.text
    assert "车辆未消毒" in checked.text
    assert ledger.count() == before
    saved = guard.post("/vehicles/new", data={**data, "step": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    assert ledger.count() == before + 1
    shown = guard.get(saved.headers["location"])
    assert 'id="saved"' in shown.text and "渝A12345" in shown.text
    (car,) = ledger.inside_now("vehicle")
    assert (car.decision, car.reasons, car.operator) == ("deny", ("not-disinfected",), GUARD)


def test_a_refused_form_marks_each_field_and_writes_nothing(guard: TestClient,
                                                            setup: Any) -> None:
    ledger: Ledger = setup[2]
    before = ledger.count()
    data = form_of(guard, "/vehicles/new", **vehicle(plate="渝A12I45", driver_phone="123",
                                                      temperature_c="abc"))
    refused = guard.post("/vehicles/new", data={**data, "step": "save"})
    assert refused.status_code == 422
    assert ledger.count() == before
    for field in ("plate", "driver_phone", "temperature_c"):
        assert re.search(rf'id="f-{field}"[^>]*>', refused.text)
        match = re.search(rf'<span class="error field-problem" id="e-{field}">([^<]+)</span>',
                          refused.text)
        assert match and match.group(1).strip(), field
    assert 'id="e-driver_name" hidden' in refused.text  # a good field has no message
    assert "渝A12I45" in refused.text  # what was typed comes back


def test_visitor_page_links_a_vehicle_and_inside_now_lets_them_out(guard: TestClient,
                                                                    api: TestClient,
                                                                    setup: Any) -> None:
    ledger: Ledger = setup[2]
    car = api.post("/api/v1/vehicles", json=vehicle()).json()["record"]
    page = guard.get(f"/visitors/new?vehicle_id={car['event_id']}")
    assert f'value="{car["event_id"]}" selected' in page.text
    data = form_of(guard, "/visitors/new", **visitor(vehicle_id=car["event_id"]))
    saved = guard.post("/visitors/new", data={**data, "step": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    (person,) = ledger.inside_now("visitor")
    assert person.vehicle_id == car["event_id"] and person.id_last4 == "123X"
    inside = guard.get("/inside")
    assert "渝A12345" in inside.text and "王五" in inside.text
    csrf = csrf_of(inside.text)
    assert guard.post(f"/inside/visitor/{person.event_id}/out", data={}).status_code == 403
    gone = guard.post(f"/inside/visitor/{person.event_id}/out", data={"csrf": csrf},
                      follow_redirects=False)
    assert gone.status_code == 303
    assert ledger.inside_now("visitor") == []
    again = guard.post(f"/inside/visitor/{person.event_id}/out", data={"csrf": csrf})
    assert again.status_code == 422


def test_alarms_unhandled_first_with_an_ack_form(guard: TestClient, setup: Any) -> None:
    ledger: Ledger = setup[2]
    gate = guard.get("/")
    assert 'class="alarm-banner" role="alert" id="unhandled-alarms"' in gate.text
    assert "1 条发热告警尚未处置" in gate.text
    (alarm,) = ledger.unhandled_alarms()
    page = guard.get("/alarms")
    assert page.text.index('id="unhandled"') < page.text.index(t_count := "共 1 次")
    assert t_count
    csrf = csrf_of(page.text)
    wrong = guard.post(f"/alarms/{alarm.event_id}/ack",
                       data={"csrf": csrf, "action": "eaten", "remeasure_c": "99"})
    assert wrong.status_code == 422
    assert wrong.text.count("field-problem") >= 2
    assert ledger.unhandled_alarms() == [alarm]
    done = guard.post(f"/alarms/{alarm.event_id}/ack",
                      data={"csrf": csrf, "action": "remeasured-normal", "remeasure_c": "36.8",
                            "note": HOSTILE_NAME}, follow_redirects=False)
    assert done.status_code == 303
    assert ledger.unhandled_alarms() == []
    after = guard.get("/alarms").text
    assert "复测正常" in after and "<script>alert" not in after
    assert 'class="alarm-banner hidden"' in guard.get("/").text


def test_the_display_tells_the_guard_of_an_unhandled_alarm(guard: TestClient) -> None:
    page = guard.get("/display").text
    assert 'id="alarm-note"' in page and "1 条发热告警尚未处置" in page


def test_capture_from_a_running_gate_daemon(api: TestClient, setup: Any,
                                            tmp_path: Path) -> None:
    """The console asks a hand-over server (the daemon's) for the next code and reading; a
    thread plays the gate loop completing the request."""
    console: Console = setup[0]
    path = tmp_path / "handover.sock"
    handover = console.config.handover.model_copy(update={"socket": str(path)})
    console.config = console.config.model_copy(update={"handover": handover})
    slot = CaptureSlot()
    server = HandoverServer(path, slot).start()

    def gate_loop() -> None:
        for _ in range(400):
            request = slot.pending
            if request is not None:
                request.complete(Capture("THP1.fake", None, 36.7, "ok"))
                return
            threading.Event().wait(0.01)

    thread = threading.Thread(target=gate_loop)
    thread.start()
    try:
        answer = api.post("/api/v1/capture")
    finally:
        thread.join()
        server.close()
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"code_checked": "thp1", "code": "THP1.fake",
                             "temperature_c": 36.7, "measurement": "ok"}


# -- the daily registers and `log` -----------------------------------------------------------

def register_day(api: TestClient) -> dict[str, Any]:
    """Two vehicles (one leaves), two visitors (one in the first vehicle, one with a fever)."""
    first = api.post("/api/v1/vehicles", json=vehicle()).json()["record"]
    api.post("/api/v1/vehicles", json=vehicle(plate="京AD12345", disinfected=False,
                                              driver_name="=HYPERLINK(1)"))
    api.post("/api/v1/visitors", json=visitor(vehicle_id=first["event_id"]))
    fever = api.post("/api/v1/visitors", json=visitor(name="赵六", temperature_c=38.4)).json()
    api.post(f"/api/v1/vehicles/{first['event_id']}/out")
    return {"first": first, "alarm": fever["alarm"]}


def test_vehicle_and_visitor_registers_page_xlsx_csv(guard: TestClient, api: TestClient,
                                                      tmp_path: Path) -> None:
    import openpyxl

    register_day(api)
    page = guard.get(f"/vehicles?date={DAY}")
    assert page.status_code == 200
    assert "入场 2 次：准入 1，拒绝 1；已离场 1，仍在场 1" in page.text
    rows = re.findall(r"<tr class=\"decision-(\w+)\">(.*?)</tr>", page.text, re.S)
    assert [d for d, _ in rows] == ["admit", "deny"]
    assert "渝A12345" in rows[0][1] and "京AD12345" in rows[1][1]
    assert "=HYPERLINK(1)" in page.text  # text as typed, escaped by the template
    people = guard.get(f"/visitors?date={DAY}").text
    assert "赵六" in people and "渝A12345" in people  # the linked vehicle's plate
    xlsx = guard.get(f"/vehicles.xlsx?date={DAY}")
    assert xlsx.status_code == 200
    path = tmp_path / "v.xlsx"
    path.write_bytes(xlsx.content)
    sheet = openpyxl.load_workbook(path).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "红炉机械厂 车辆登记表 2021-02-22"
    assert values[2][3] == "渝A12345" and values[3][3] == "京AD12345"
    assert isinstance(values[2][1], dt.datetime) and isinstance(values[2][2], dt.datetime)
    assert values[3][2] is None  # still inside
    assert values[3][6] == "=HYPERLINK(1)"  # a string cell, not a formula
    csv_text = guard.get(f"/visitors.csv?date={DAY}").content.decode("utf-8-sig")
    assert csv_text.count("\r\n") == 3 and "赵六" in csv_text
    vehicles_csv = guard.get(f"/vehicles.csv?date={DAY}").content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in vehicles_csv


def test_report_and_log_commands_show_the_new_kinds(api: TestClient, setup: Any,
                                                    tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from station.cli import main

    day = register_day(api)
    assert api.post("/api/v1/acks", json={"ref_event_id": day["alarm"]["event_id"],
                                          "action": "sent-home"}).status_code == 201
    console: Console = setup[0]
    config = tmp_path / "config.yaml"
    config.write_text(f"station: {{id: test-01, enterprise: 红炉机械厂}}\n"
                      f"ledger: {{path: {console.ledger_path}}}\n")
    runner = CliRunner()
    result = runner.invoke(main, ["report", "vehicles", "--date", str(DAY), "--config",
                                  str(config), "--json", "--xlsx", str(tmp_path / "v.xlsx"),
                                  "--csv", str(tmp_path / "v.csv")])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["count"], document["admitted"], document["denied"], document["left"]) == \
        (2, 1, 1, 1)
    assert [v["plate"] for v in document["visits"]] == ["渝A12345", "京AD12345"]
    assert (tmp_path / "v.xlsx").stat().st_size > 0
    text_out = runner.invoke(main, ["report", "visitors", "--date", str(DAY), "--config",
                                    str(config)])
    assert text_out.exit_code == 0, text_out.output
    assert "外来人员登记表" in text_out.stdout and "赵六" in text_out.stdout
    log = runner.invoke(main, ["log", "--config", str(config), "--date", str(DAY)])
    assert log.exit_code == 0, log.output
    assert "车辆" in log.stdout and "访客" in log.stdout and "离场" in log.stdout
    assert "渝A12345" in log.stdout
    assert "告警处置" in log.stdout and "劝返回家" in log.stdout


def test_many_unhandled_alarms_show_the_newest_with_the_true_count(guard: TestClient,
                                                                    setup: Any) -> None:
    """A station that ran for months before its guards had the console: thousands of
    unhandled alarms. The alarms page shows the newest 50 with a form each and says how many
    there are; the gate page and the kiosk count all of them."""
    ledger: Ledger = setup[2]
    (first,) = ledger.unhandled_alarms()
    more = [Record(**{**first.fields_dict(), "seq": None, "event_id": f"old-alarm-{n:03d}"})
            for n in range(79)]
    ledger.append(*more)
    assert ledger.unhandled_alarm_count() == 80
    newest = ledger.unhandled_alarms(50)
    assert len(newest) == 50 and newest[0].event_id == "old-alarm-078"
    page = guard.get("/alarms").text
    assert "未处置告警（80）" in page and "下面是最新的 50 条" in page
    assert page.count('class="reg ack"') == 50
    assert "80 条发热告警尚未处置" in guard.get("/").text
    assert "80 条发热告警尚未处置" in guard.get("/display").text
    plan = " ".join(str(row[-1]) for row in ledger._conn.execute(
        f"EXPLAIN QUERY PLAN SELECT count(*) FROM records WHERE {Ledger._UNHANDLED}"))
    assert "SCAN records USING INDEX records_alarms" in plan  # not the whole table
    assert "USING INDEX records_acks" in plan
