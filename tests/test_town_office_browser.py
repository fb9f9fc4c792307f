"""The town office console in a real browser: Debian's Chromium driven by Playwright
(pytest-playwright) against the town server served by uvicorn on 127.0.0.1, on the
demonstration town (sync/town/office/demo.py). No browser download: `executable_path` is
Debian's chromium (the setup script and .ci/run install it). Skipped only when chromium is
missing outside CI."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import uvicorn

from station.clock import CST, cst_date
from sync.town.app import create_app
from sync.town.db import create_database
from sync.town.office.demo import fill
from sync.town.store import SqliteTownStore

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (CI requires it)")
TODAY = cst_date(dt.datetime.now(CST))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("office")
    create_database(tmp / "town.db")
    store = SqliteTownStore(tmp / "town.db")
    fill(store, TODAY, workers=12)
    _, token = store.new_admin_token("浏览器测试", "test")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield {"url": f"http://127.0.0.1:{port}", "token": token, "store": store, "tmp": tmp}
    server.should_exit = True
    thread.join(10)
    store.close()


def log_in(page: Any, town: dict[str, Any]) -> None:
    page.goto(town["url"] + "/")
    page.fill("input[name=token]", town["token"])
    page.click("form[action='/login'] button")
    page.wait_for_url(town["url"] + "/")


def test_from_the_dashboard_to_the_records_of_a_station(page: Any,
                                                       town: dict[str, Any]) -> None:
    """Overview → the enterprise that registered nobody stands out → an enterprise → its
    station → its records, by clicking."""
    log_in(page, town)  # the dashboard's own page is not under test here
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.click("a[href='/office']")
    first = page.locator("table.compliance tbody tr").first
    assert "nobody" in (first.get_attribute("class") or "")
    assert "渝西食品" in first.inner_text() and "无人登记" in first.inner_text()
    assert page.locator("svg.chart").count() == 2
    page.click("table.compliance a:text('红炉机械厂')")
    page.wait_for_url("**/office/enterprise?**")
    page.click("table.stations a:text('honglu-gate1')")
    page.wait_for_url("**/office/station/honglu-gate1?**")
    assert page.locator("table.records tbody tr").count() > 5
    assert page.locator("svg.chart").count() == 3  # the day's backlog and faults, 14 days
    assert errors == []  # no CSP violation, no missing file


def test_the_date_picker_shows_another_day(page: Any, town: dict[str, Any]) -> None:
    log_in(page, town)
    page.goto(town["url"] + "/office")
    earlier = (TODAY - dt.timedelta(days=3)).isoformat()
    page.fill("input[name=date]", earlier)
    page.click("form.filters button[type=submit]")
    page.wait_for_url(f"**/office?date={earlier}")
    assert earlier in page.inner_text("h1")
    assert "nobody" not in (page.locator("table.compliance tbody tr").first.get_attribute(
        "class") or "")  # every enterprise registered people that day


def test_trace_a_worker_across_enterprises_and_download_it(page: Any,
                                                          town: dict[str, Any]) -> None:
    log_in(page, town)
    page.goto(town["url"] + "/office/trace")
    page.fill("input[name=subject]", "W00001")
    page.fill("input[name=from]", (TODAY - dt.timedelta(days=13)).isoformat())
    page.fill("input[name=to]", TODAY.isoformat())
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("table.records")
    text = page.inner_text("table.records")
    assert "红炉机械厂" in text and "永川电子" in text
    with page.expect_download() as download:
        page.click("a.button[href*='format=xlsx']")
    path = town["tmp"] / "trace.xlsx"
    download.value.save_as(path)
    rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    assert len(rows) - 2 == page.locator("table.records tbody tr").count()


def test_english_and_back(page: Any, town: dict[str, Any]) -> None:
    log_in(page, town)
    page.goto(town["url"] + "/office/returning")
    page.click("text=English")
    page.wait_for_url("**/office/returning")
    assert page.inner_text("h1").startswith("Returning workers")
    assert page.locator(".badge.overdue").count() > 0
    page.click("text=中文")
    assert page.inner_text("h1").startswith("返乡人员")


def test_add_a_station_from_the_admin_page(page: Any, town: dict[str, Any]) -> None:
    log_in(page, town)
    page.goto(town["url"] + "/office/admin")
    page.fill("#station-add input[name=station]", "browser-gate")
    page.fill("#station-add input[name=enterprise]", "浏览器企业")
    page.click("#station-add button")
    token = page.inner_text("#new-token")
    assert town["store"].station_for_token(token).id == "browser-gate"
    page.goto(town["url"] + "/office/audit")
    first = page.locator("table.audit tbody tr").first.inner_text()
    assert "station-add" in first and "浏览器测试" in first


def test_a_bad_date_is_a_page_not_a_crash(page: Any, town: dict[str, Any]) -> None:
    log_in(page, town)
    response = page.goto(town["url"] + "/office/health?date=2021-02-30")
    assert response.status == 400
    assert "2021-02-30" in page.inner_text("[role=alert]")


def test_the_health_history_charts_render(page: Any, town: dict[str, Any]) -> None:
    """The health page's district chart and a station's day of heartbeats are drawn (SVG
    with a size on the page, bars where the demo's backlog grew), and the station's
    history downloads as Excel."""
    log_in(page, town)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(town["url"] + "/office/health")
    district = page.locator("svg.chart").first
    box = district.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 50
    row = page.locator("table.health tbody tr", has_text="linjiang-yard")
    row.locator("a[href*='#history']").click()
    page.wait_for_url("**/office/station/linjiang-yard?**")
    chart = page.locator("#history ~ .charts svg.chart").first
    box = chart.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 50
    if dt.datetime.now(CST).hour >= 13:  # the demo's backlog grows from noon
        assert chart.locator("rect.series-0").count() > 0
    assert page.locator("table.gaps tbody tr").count() >= 1
    with page.expect_download() as download:
        page.click("a.export[href*='part=health']")
    path = town["tmp"] / "health.xlsx"
    download.value.save_as(path)
    rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    assert "linjiang-yard" in str(rows[0][0])
    assert errors == []
