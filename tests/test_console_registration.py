"""The guard's registrations through the console: the JSON API (auth, 422 refusals that write
nothing, out records, acks, preview) and the pages (forms, inside now, alarm handling,
hand-over from a gate daemon or its absence)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from station.clock import CST, VirtualClock
from station.console.state import Console
from station.ledger import Ledger
from tests.consolekit import (
    DAY,
    GUARD,
    GUARD_PASSWORD,
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
