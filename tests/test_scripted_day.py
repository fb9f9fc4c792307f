"""A scripted day at the gate (issue 11, "Done when"): workers through `gate-station
simulate`, then the guard's day on the same (simulated) ledger through the console served by
uvicorn on 127.0.0.1 — three vehicles (one refused for the driver's yellow code, one not
disinfected) and five visitors (four through the JSON API, one through the pages in Debian's
Chromium), one fever alarm acked — and then the ledger, `report vehicles|visitors` (JSON and
XLSX) and the town (a real `town-server` reached by `gate-station sync --allow-simulated`)
must all agree.

The town never lists simulated alarms on `GET /api/v1/alarms` (sync.md: simulated records
are never alarms), so the last test runs a real (not simulated) ledger's fever and ack
through the console API and the same sync to check that endpoint."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import uvicorn
import yaml

from station.clock import CST, VirtualClock
from station.config import load
from station.console.app import create_app, make_console
from station.ledger import Ledger
from tests.townkit import TownProcess, free_port, town_cli

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
GATE_STATION = str(Path(sys.executable).parent / "gate-station")
DAY = dt.datetime.now(CST).date() - dt.timedelta(days=1)  # recent: the town keeps it
GUARD, GUARD_PASSWORD = "guard1", "guard-password-1"
WORKERS = {
    "start": f"{DAY}T07:30:00+08:00",
    "events": [
        {"at": "07:30:00", "code": {"sub": "W0000001", "name": "王小明", "color": "green"},
         "temperature": 36.5},
        {"at": "+20s", "code": {"sub": "W0000002", "name": "李四", "color": "green"},
         "temperature": 36.6},
        {"at": "+20s", "code": {"sub": "W0000003", "name": "张三", "color": "green"},
         "temperature": [37.9, 37.8]},
    ],
}


def vehicle(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "plate": "渝A·12345", "vehicle_type": "truck", "carrier": "重庆某物流",
        "driver_name": "刘师傅", "driver_phone": "13800138000", "code_checked": "shown",
        "color": "green", "temperature_c": 36.6, "occupants": 1, "origin": "四川省成都市",
        "cargo": "钢材", "disinfected": True, "disinfection_method": "含氯消毒液喷洒",
        "disinfection_operator": "李四", "host": "仓库"}
    form.update(changes)
    return form


def visitor(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "王五", "phone": "13912345678", "id_last4": "123X", "organisation": "供应商",
        "host": "采购部", "purpose": "送样品", "code_checked": "shown", "color": "green",
        "temperature_c": 36.4}
    form.update(changes)
    return form


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([GATE_STATION, *args], capture_output=True, text=True,
                            input=stdin, timeout=120, cwd=ROOT,
                            env={**os.environ, "GATE_STATION_DRIVERS": "fake"})
    assert result.returncode == 0, result.stderr
    return result


class ConsoleServer:
    """The console app under uvicorn on a free loopback port, in a thread."""

    def __init__(self, config_path: Path, clock: VirtualClock) -> None:
        console = make_console(load(config_path))
        console.clock = clock
        console.accounts.add_user(GUARD, "guard", GUARD_PASSWORD)
        self.console = console
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(console), host="127.0.0.1",
                                                    port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ConsoleServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.console.accounts.close()

    def api(self) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30)
        answer = client.post("/api/v1/session", json={"name": GUARD, "password": GUARD_PASSWORD})
        assert answer.status_code == 201, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        return client


def station_config(tmp: Path, ledger: Path, town_url: str, token: str) -> Path:
    (tmp / "token").write_text(token + "\n")
    os.chmod(tmp / "token", 0o600)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump({
        "station": {"id": "gate-a", "enterprise": "红炉机械厂"}, "drivers": "fake",
        "ledger": {"path": str(ledger)}, "bundle": {"path": str(tmp / "bundle.json")},
        "console": {"accounts_path": str(tmp / "console.db")},
        "handover": {"socket": str(tmp / "no-daemon.sock")},
        "town": {"url": town_url, "token_file": str(tmp / "token"), "timeout_s": 5,
                 "backoff_base_s": 0.05, "backoff_cap_s": 0.5}}, allow_unicode=True))
    return path


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("town")
    town = TownProcess(tmp / "town.db").start()
    try:
        yield {"url": town.url, "db": town.db,
               "admin": town_cli("admin-token", "new", "--db", str(town.db))}
    finally:
        town.stop()


def town_get(town: dict[str, Any], path: str) -> Any:
    answer = httpx.get(town["url"] + path, timeout=10,
                       headers={"Authorization": f"Bearer {town['admin']}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (CI requires it)")
def test_a_scripted_day_agrees_everywhere(page: Any, town: dict[str, Any],
                                          tmp_path: Path) -> None:
    # -- the workers, through simulate, into a simulated ledger -----------------------------
    ledger_path = tmp_path / "day.db"
    scenario = tmp_path / "workers.yaml"
    scenario.write_text(yaml.safe_dump(WORKERS, allow_unicode=True))
    simulate_config = tmp_path / "simulate.yaml"  # simulate refuses the configured ledger
    simulate_config.write_text(yaml.safe_dump({"drivers": "fake",
                                               "ledger": {"path": str(tmp_path / "own.db")}}))
    run("simulate", str(scenario), "--config", str(simulate_config), "--ledger",
        str(ledger_path))
    token = town_cli("stations", "add", "gate-a", "--enterprise", "红炉机械厂", "--db",
                     str(town["db"]))
    config = station_config(tmp_path, ledger_path, town["url"], token)
    clock = VirtualClock(dt.datetime.combine(DAY, dt.time(9, 0), CST))

    with ConsoleServer(config, clock) as server:
        api = server.api()
        # -- three vehicles --------------------------------------------------------------
        admitted = api.post("/api/v1/vehicles", json=vehicle()).json()["record"]
        clock.sleep(60)
        yellow = api.post("/api/v1/vehicles", json=vehicle(
            plate="川A 54321", driver_name="陈师傅", driver_phone="13700137000",
            color="yellow")).json()["record"]
        clock.sleep(60)
        dirty = api.post("/api/v1/vehicles", json=vehicle(
            plate="渝AD12345", vehicle_type="van", driver_name="周师傅",
            driver_phone="13600136000", disinfected=False, cold_chain=True)).json()["record"]
        assert (admitted["decision"], yellow["decision"], dirty["decision"]) == \
            ("admit", "deny", "deny")
        assert (yellow["reasons"], dirty["reasons"]) == (["color"], ["not-disinfected"])
        # a refused call writes nothing
        refused = api.post("/api/v1/vehicles", json=vehicle(plate="渝A12I45"))
        assert refused.status_code == 422
        # -- four visitors through the API (one came in the first vehicle, one has a fever)
        clock.sleep(60)
        rider = api.post("/api/v1/visitors", json=visitor(
            name="孙七", phone="13512345678", vehicle_id=admitted["event_id"])).json()
        clock.sleep(60)
        api.post("/api/v1/visitors", json=visitor(name="周八", phone="13412345678"))
        clock.sleep(60)
        api.post("/api/v1/visitors", json=visitor(name="吴九", phone="13312345678",
                                                  code_checked="none"))
        clock.sleep(60)
        fever = api.post("/api/v1/visitors", json=visitor(
            name="郑十", phone="13212345678", temperature_c=38.3)).json()
        assert fever["alarm"] is not None and rider["record"]["vehicle_id"]
        # -- the fifth visitor through the pages, in Chromium ----------------------------
        clock.sleep(60)
        page.goto(server.url + "/login")
        page.fill("input[name=name]", GUARD)
        page.fill("input[name=password]", GUARD_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/")
        page.goto(server.url + "/visitors/new")
        page.click("#capture")  # no gate daemon: the page says so, the guard types it in
        page.wait_for_selector("#capture-state.error")
        assert "门岗程序未响应" in page.inner_text("#capture-state")
        page.fill("input[name=name]", "冯十一")
        page.fill("input[name=phone]", "139 1111 2222")
        page.fill("input[name=host]", "办公室")
        page.fill("input[name=purpose]", "面试")
        page.select_option("select[name=code_checked]", "shown")
        page.select_option("select[name=color]", "green")
        page.fill("input[name=temperature_c]", "36.5")
        page.click("button[value=check]")
        page.wait_for_selector("#preview")
        assert "准入" in page.inner_text("#preview")
        page.click("#save")
        page.wait_for_selector("#saved")
        # -- the alarm acked; one vehicle and one visitor leave --------------------------
        clock.sleep(60)
        ack = api.post("/api/v1/acks", json={"ref_event_id": fever["alarm"]["event_id"],
                                             "action": "sent-to-clinic", "remeasure_c": 38.1,
                                             "note": "送镇卫生院"})
        assert ack.status_code == 201, ack.text
        clock.sleep(60)
        assert api.post(f"/api/v1/vehicles/{admitted['event_id']}/out").status_code == 201
        assert api.post(f"/api/v1/visitors/{rider['record']['event_id']}/out"
                        ).status_code == 201

    # -- the ledger ------------------------------------------------------------------------
    with Ledger.open_readonly(ledger_path) as ledger:
        records = list(ledger.all_records())
        vehicles_in = [r for r in records if r.kind == "vehicle" and r.direction == "in"]
        visitors_in = [r for r in records if r.kind == "visitor" and r.direction == "in"]
        assert [r.plate for r in vehicles_in] == ["渝A12345", "川A54321", "渝AD12345"]
        assert [r.name for r in visitors_in] == ["孙七", "周八", "吴九", "郑十", "冯十一"]
        assert [r.decision for r in visitors_in] == ["admit", "admit", "deny", "deny", "admit"]
        assert visitors_in[4].phone == "13911112222" and visitors_in[4].operator == GUARD
        alarms = [r for r in records if r.kind == "alarm"]
        assert len(alarms) == 2  # the worker's (simulate) and the visitor's
        assert [r.ref_event_id for r in records if r.kind == "ack"] == \
            [fever["alarm"]["event_id"]]
        assert [a.subject for a in ledger.unhandled_alarms()] == ["W0000003"]
        assert [r.plate for r in ledger.inside_now("vehicle")] == ["川A54321", "渝AD12345"]
        total = ledger.count()

    # -- the reports and the XLSX ----------------------------------------------------------
    xlsx = tmp_path / "vehicles.xlsx"
    report = json.loads(run("report", "vehicles", "--date", str(DAY), "--config", str(config),
                            "--json", "--xlsx", str(xlsx)).stdout)
    assert (report["count"], report["admitted"], report["denied"], report["left"]) == \
        (3, 1, 2, 1)
    assert [v["plate"] for v in report["visits"]] == [r.plate for r in vehicles_in]
    sheet = [list(r) for r in openpyxl.load_workbook(xlsx).active.iter_rows(values_only=True)]
    assert [row[3] for row in sheet[2:5]] == [r.plate for r in vehicles_in]
    assert sheet[2][2] is not None and sheet[3][2] is None  # left / still inside
    people = json.loads(run("report", "visitors", "--date", str(DAY), "--config", str(config),
                            "--json").stdout)
    assert [v["name"] for v in people["visits"]] == [r.name for r in visitors_in]
    assert (people["admitted"], people["denied"], people["fevers"], people["left"]) == \
        (3, 2, 1, 1)

    # -- the town --------------------------------------------------------------------------
    run("sync", "--once", "--allow-simulated", "--config", str(config))
    at_town = town_get(town, "/api/v1/entries?kind=vehicle&station=gate-a")["entries"]
    assert [(e["plate"], e["direction"], e["decision"]) for e in at_town] == [
        ("渝A12345", "in", "admit"), ("川A54321", "in", "deny"), ("渝AD12345", "in", "deny"),
        ("渝A12345", "out", None)]
    assert all(e["simulated"] for e in at_town)
    assert at_town[0]["driver_name"] == "刘*" and at_town[0]["driver_phone"] == "138****8000"
    assert {e["event_id"] for e in at_town} >= {admitted["event_id"], dirty["event_id"]}
    town_visitors = town_get(town, "/api/v1/entries?kind=visitor&station=gate-a")["entries"]
    assert [e["name"] for e in town_visitors if e["direction"] == "in"] == \
        ["孙*", "周*", "吴*", "郑*", "冯*"]
    town_acks = town_get(town, "/api/v1/entries?kind=ack&station=gate-a")["entries"]
    assert [a["ref_event_id"] for a in town_acks] == [fever["alarm"]["event_id"]]
    every = town_get(town, "/api/v1/entries?station=gate-a&limit=1000")["entries"]
    assert len(every) == total
    # simulated records are never alarms at the town (sync.md)
    listed = town_get(town, "/api/v1/alarms")["alarms"]
    assert all(a["station"] != "gate-a" for a in listed)


def test_a_real_fever_and_its_ack_reach_the_town_alarms(town: dict[str, Any],
                                                        tmp_path: Path) -> None:
    """A station's own (not simulated) ledger: a visitor's fever and its ack through the
    console API, pushed by `gate-station sync`; the town's alarm list agrees."""
    ledger_path = tmp_path / "ledger.db"
    Ledger(ledger_path).close()  # the station's own ledger, as `db init` makes it
    token = town_cli("stations", "add", "gate-b", "--enterprise", "红炉机械厂", "--db",
                     str(town["db"]))
    config = station_config(tmp_path, ledger_path, town["url"], token)
    text = config.read_text().replace("id: gate-a", "id: gate-b")
    config.write_text(text)
    clock = VirtualClock(dt.datetime.combine(DAY, dt.time(10, 0), CST))
    with ConsoleServer(config, clock) as server:
        api = server.api()
        handled = api.post("/api/v1/visitors", json=visitor(temperature_c=38.6)).json()
        clock.sleep(30)
        open_alarm = api.post("/api/v1/vehicles", json=vehicle(temperature_c=37.9)).json()
        clock.sleep(30)
        assert api.post("/api/v1/acks", json={
            "ref_event_id": handled["alarm"]["event_id"], "action": "remeasured-normal",
            "remeasure_c": 36.9}).status_code == 201
    run("sync", "--once", "--config", str(config))
    alarms = [a for a in town_get(town, "/api/v1/alarms")["alarms"] if a["station"] == "gate-b"]
    assert [a["event_id"] for a in alarms] == [open_alarm["alarm"]["event_id"],
                                              handled["alarm"]["event_id"]]  # unhandled first
    assert alarms[0]["ack"] is None
    assert alarms[1]["ack"]["action"] == "remeasured-normal"
    assert alarms[1]["ack"]["remeasure_c"] == 36.9
    unhandled = town_get(town, "/api/v1/alarms?handled=false")["alarms"]
    assert [a["event_id"] for a in unhandled if a["station"] == "gate-b"] == \
        [open_alarm["alarm"]["event_id"]]
