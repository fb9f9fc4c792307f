"""The station console in a real browser: Debian's Chromium driven by Playwright
(pytest-playwright) against the console served by uvicorn on 127.0.0.1, on a ledger written by
`gate-station simulate`. No browser download: `executable_path` is Debian's chromium (the
setup script and .ci/run install it). Skipped only when chromium is missing outside CI."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import uvicorn
import yaml
from playwright.sync_api import expect

from station.config import load
from station.console.app import create_app, make_console
from station.ledger import Ledger
from station.reports import daily_report
from tests.consolekit import entry

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (CI requires it)")
ROOT = Path(__file__).resolve().parent.parent
GATE_STATION = str(Path(sys.executable).parent / "gate-station")
DAY = "2021-02-22"
OFFICER, OFFICER_PASSWORD = "安全员甲", "officer-password-1"
GUARD, GUARD_PASSWORD = "guard1", "guard-password-1"
SCENARIO = {
    "start": f"{DAY}T07:30:00+08:00",
    "events": [
        {"at": "07:30:00", "code": {"sub": "W0000001", "name": "王小明", "color": "green"},
         "temperature": 36.5},
        {"at": "+20s", "code": {"sub": "W0000002", "name": "李四", "color": "yellow"},
         "temperature": 36.6},
        {"at": "+20s", "code": {"sub": "W0000003", "name": "张三", "color": "green"},
         "temperature": [37.9, 37.8]},
        {"at": "+20s", "code": {"sub": "W0000004", "name": "赵五", "color": "green",
                                "nat": "2021-02-01",
                                "returned": {"date": "2021-02-09",
                                             "origin": "outside-municipality"}},
         "temperature": 36.4},
        {"at": "+20s", "temperature": 36.7},
        {"at": "+20s", "exit": True},
    ],
}
LATE = {"start": f"{DAY}T09:00:00+08:00",
        "events": [{"at": "09:00:00", "code": {"sub": "W0000099", "name": "周九",
                                              "color": "green"}, "temperature": 36.6}]}
PAGES = ["/", f"/register?date={DAY}", f"/records?from={DAY}&to={DAY}", "/records/1",
         "/alarms", f"/returning?date={DAY}", f"/stats?date={DAY}", "/health",
         f"/whatif?run=1&date={DAY}&fever_threshold_c=37.0&color=green", "/display"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([GATE_STATION, *args], capture_output=True, text=True,
                            input=stdin, timeout=120, cwd=ROOT,
                            env={**os.environ, "GATE_STATION_DRIVERS": "fake"})
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("console")
    config_path = tmp / "config.yaml"
    config_path.write_text(yaml.safe_dump({
        "station": {"id": "test-01", "enterprise": "红炉机械厂"}, "drivers": "fake",
        "ledger": {"path": str(tmp / "ledger.db")}, "bundle": {"path": str(tmp / "b.json")},
        "console": {"accounts_path": str(tmp / "console.db"), "display_seconds": 30}},
        allow_unicode=True))
    # simulate never writes into the ledger its config names as the station's own: its
    # config here names another file, and the console's ledger is the simulation's
    simulate_config = tmp / "simulate.yaml"
    simulate_config.write_text(yaml.safe_dump({
        "drivers": "fake", "ledger": {"path": str(tmp / "station-own.db")}}))
    scenario = tmp / "day.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO, allow_unicode=True))
    run("simulate", str(scenario), "--config", str(simulate_config), "--ledger",
        str(tmp / "ledger.db"))
    run("console", "user", "add", OFFICER, "--role", "officer", "--config", str(config_path),
        stdin=OFFICER_PASSWORD + "\n")
    run("console", "user", "add", GUARD, "--role", "guard", "--config", str(config_path),
        stdin=GUARD_PASSWORD + "\n")
    gate = Ledger(tmp / "ledger.db")  # the gate daemon's writer, kept open as it would be
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = load(config_path)
    server = uvicorn.Server(uvicorn.Config(create_app(make_console(config)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield {"url": f"http://127.0.0.1:{port}", "config": config, "config_path": config_path,
           "simulate_config": simulate_config,
           "tmp": tmp, "gate": gate}
    server.should_exit = True
    thread.join(10)
    gate.close()


def log_in(page: Any, base: str, name: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_log_in_and_out(page: Any, station: dict[str, Any]) -> None:
    base = station["url"]
    log_in(page, base, OFFICER, OFFICER_PASSWORD)
    page.wait_for_url(base + "/")
    assert page.inner_text("h1").startswith("门岗实时")
    assert OFFICER in page.inner_text(".who")
    page.click("text=退出")
    page.wait_for_url(base + "/login")
    page.goto(base + "/records")
    assert page.url.startswith(base + "/login?next=")


def test_wrong_password(page: Any, station: dict[str, Any]) -> None:
    log_in(page, station["url"], OFFICER, "not-my-password")
    assert page.inner_text("[role=alert]") == "用户名或密码不正确。"
    assert page.url == station["url"] + "/login"


def test_a_guard_is_refused_an_officer_page(page: Any, station: dict[str, Any]) -> None:
    base = station["url"]
    log_in(page, base, GUARD, GUARD_PASSWORD)
    page.wait_for_url(base + "/")
    assert page.locator("nav.menu a[href='/register']").count() == 0
    response = page.goto(base + f"/register?date={DAY}")
    assert response.status == 403
    assert "仅限安全员" in page.inner_text("main")
    assert page.goto(base + "/alarms").status == 200


def test_every_page_renders_without_console_errors(page: Any, station: dict[str, Any]) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    base = station["url"]
    log_in(page, base, OFFICER, OFFICER_PASSWORD)
    page.wait_for_url(base + "/")
    for language in ("zh_CN", "en"):
        page.goto(base + f"/lang/{language}")
        for path in PAGES:
            response = page.goto(base + path)
            assert response.status == 200, path
            page.wait_for_timeout(150)
    assert errors == []


def test_register_page_and_its_xlsx_equal_report_daily(page: Any,
                                                       station: dict[str, Any]) -> None:
    base, tmp = station["url"], station["tmp"]
    cli_xlsx = tmp / "cli.xlsx"
    text = run("report", "daily", "--date", DAY, "--config", str(station["config_path"]),
               "--xlsx", str(cli_xlsx)).stdout
    with Ledger.open_readonly(tmp / "ledger.db") as ledger:
        report = daily_report(ledger, __import__("datetime").date(2021, 2, 22),
                              station["config"].policy)
    log_in(page, base, OFFICER, OFFICER_PASSWORD)
    page.wait_for_url(base + "/")
    page.goto(base + f"/register?date={DAY}")
    assert page.inner_text(".totals") in text  # the same totals line as the terminal report
    rows = page.locator("table.register tbody tr")
    assert rows.count() == len(report.people) == 4
    page_rows = [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
                 for i in range(rows.count())]
    assert [(r[1], r[5]) for r in page_rows] == [
        (p.subject, f"{p.temperature_c:.1f}") for p in report.people]
    with page.expect_download() as download:
        page.click("a[href^='/register.xlsx']")
    path = tmp / "page.xlsx"
    download.value.save_as(path)
    served = [list(r) for r in openpyxl.load_workbook(path).active.iter_rows(values_only=True)]
    written = [list(r) for r in openpyxl.load_workbook(cli_xlsx).active.iter_rows(
        values_only=True)]
    assert served == written
    assert [r[1] for r in served[2:6]] == [p.subject for p in report.people]
    assert [r[8] or "" for r in served[2:6]] == [r[8] for r in page_rows]  # reasons, in words


def test_display_shows_a_record_that_simulate_just_wrote(page: Any,
                                                         station: dict[str, Any]) -> None:
    base, tmp = station["url"], station["tmp"]
    log_in(page, base, GUARD, GUARD_PASSWORD)
    page.wait_for_url(base + "/")
    page.goto(base + "/display")
    assert page.inner_text("#verdict") == "请出示健康码"
    late = tmp / "late.yaml"
    late.write_text(yaml.safe_dump(LATE, allow_unicode=True))
    run("simulate", str(late), "--config", str(station["simulate_config"]), "--ledger",
        str(tmp / "ledger.db"))
    expect(page.locator("#who")).to_have_text("周*", timeout=5000)
    assert page.inner_text("#verdict") == "请通行"
    assert "36.6" in page.inner_text("#temp")
    assert "admit" in page.get_attribute("body", "class")


def test_gate_page_shows_a_new_record_within_a_second(page: Any,
                                                      station: dict[str, Any]) -> None:
    base, gate = station["url"], station["gate"]
    log_in(page, base, OFFICER, OFFICER_PASSWORD)
    page.wait_for_url(base + "/")
    page.wait_for_selector("#live-state.on", timeout=5000)
    started = time.monotonic()
    [written] = gate.append(entry("10:00:00", "W0000123", "孙*", 36.8,
                                  day=__import__("datetime").date(2021, 2, 22)))
    page.wait_for_selector(f"tr[data-seq='{written.seq}']", timeout=3000)
    assert time.monotonic() - started < 1.0
    assert "孙*" in page.inner_text(f"tr[data-seq='{written.seq}']")


def test_pages_fit_a_360_pixel_phone(page: Any, station: dict[str, Any]) -> None:
    base = station["url"]
    page.set_viewport_size({"width": 360, "height": 740})
    log_in(page, base, OFFICER, OFFICER_PASSWORD)
    page.wait_for_url(base + "/")
    for path in PAGES:
        page.goto(base + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, (path, width)  # wide tables scroll inside their own box


def test_a_form_with_a_forged_csrf_token_is_refused(page: Any,
                                                    station: dict[str, Any]) -> None:
    base = station["url"]
    log_in(page, base, OFFICER, OFFICER_PASSWORD)
    page.wait_for_url(base + "/")
    page.evaluate("document.querySelector(\"form[action='/logout'] input[name=csrf]\")"
                  ".value = 'forged'")
    with page.expect_navigation():
        page.click("text=退出")
    assert "表单已过期或来源不明" in page.inner_text("main")
    assert page.goto(base + "/health").status == 200  # still logged in: nothing happened


def test_the_register_prints_on_a4(page: Any, station: dict[str, Any]) -> None:
    base = station["url"]
    log_in(page, base, OFFICER, OFFICER_PASSWORD)
    page.wait_for_url(base + "/")
    page.goto(base + f"/register?date={DAY}")
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="print")
    assert not page.is_visible("header.top") and not page.is_visible("form.filters")
    assert page.is_visible("table.register") and page.is_visible(".signature")
    assert io.BytesIO(pdf).getbuffer().nbytes > 1000
