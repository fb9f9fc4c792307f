"""Screenshots of the guard's registration pages with headless Chromium (Debian's, through
Playwright), on a throw-away station made here: `python scripts/registration_screenshots.py
OUTDIR`. Writes console-vehicle-1280.png (a vehicle form with its decision shown before
saving), console-guard-alarms-1280.png (an unhandled fever alarm with its handling form),
console-inside-1280.png and console-vehicle-360.png."""

from __future__ import annotations

import datetime as dt
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from station.clock import CST, VirtualClock
from station.config import validate
from station.console.app import create_app, make_console
from station.ledger import Ledger
from station.registration import Registrar

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
USER, PASSWORD = "门卫甲", "guard-password-1"


def station(tmp: Path) -> tuple[uvicorn.Server, str]:
    config = validate({"station": {"id": "gate-a", "enterprise": "红炉机械厂"},
                       "ledger": {"path": str(tmp / "ledger.db")},
                       "bundle": {"path": str(tmp / "bundle.json")},
                       "handover": {"socket": str(tmp / "handover.sock")},
                       "console": {"accounts_path": str(tmp / "console.db")}}, "screenshots")
    clock = VirtualClock(dt.datetime.now(CST).replace(hour=8, minute=40, microsecond=0))
    with Ledger(tmp / "ledger.db") as ledger:
        registrar = Registrar(ledger, clock=clock, policy=lambda: config.policy,
                              trust=lambda: __import__("station.trust").trust.TrustList())
        car = registrar.vehicle_in({
            "plate": "渝A12345", "vehicle_type": "truck", "carrier": "重庆某物流",
            "driver_name": "刘师傅", "driver_phone": "13800138000", "code_checked": "shown",
            "color": "green", "temperature_c": 36.6, "origin": "四川省成都市",
            "disinfected": True, "disinfection_method": "含氯消毒液喷洒", "host": "仓库"},
            USER).record
        clock.sleep(300)
        registrar.visitor_in({"name": "孙七", "phone": "13512345678", "host": "仓库",
                              "purpose": "押车", "code_checked": "shown", "color": "green",
                              "temperature_c": 36.4, "vehicle_id": car.event_id}, USER)
        clock.sleep(600)
        registrar.visitor_in({"name": "郑十", "phone": "13212345678", "host": "采购部",
                              "purpose": "送样品", "code_checked": "shown", "color": "green",
                              "temperature_c": 38.3, "organisation": "某供应商"}, USER)
    console = make_console(config)
    console.clock = clock
    console.accounts.add_user(USER, "guard", PASSWORD)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(console), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server, base = station(Path(tmp))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for width, height in ((1280, 900), (360, 740)):
                page = browser.new_context(viewport={"width": width, "height": height}
                                           ).new_page()
                page.goto(base + "/login")
                page.fill("input[name=name]", USER)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(base + "/")
                page.goto(base + "/vehicles/new")
                page.click("button[data-province='川']")
                page.type("#plate", "A 5432I")  # a typo: the I is not allowed on plates
                page.fill("input[name=driver_name]", "陈师傅")
                page.fill("input[name=driver_phone]", "13700137000")
                page.fill("input[name=origin]", "成都市青白江区")
                page.fill("input[name=cargo]", "冷冻海产品")
                page.check("input[name=cold_chain]")
                page.select_option("select[name=code_checked]", "shown")
                page.select_option("select[name=color]", "green")
                page.fill("input[name=temperature_c]", "36.7")
                page.click("button[value=check]")  # refused: the plate, next to the field
                page.wait_for_selector("#refused")
                page.fill("#plate", "川A54321")
                page.click("button[value=check]")  # the decision, before saving
                page.wait_for_selector("#preview")
                page.screenshot(path=str(out / f"console-vehicle-{width}.png"), full_page=True)
                if width == 1280:
                    page.goto(base + "/alarms")
                    page.screenshot(path=str(out / "console-guard-alarms-1280.png"),
                                    full_page=True)
                    page.goto(base + "/inside")
                    page.screenshot(path=str(out / "console-inside-1280.png"), full_page=True)
            browser.close()
        server.should_exit = True


if __name__ == "__main__":
    main()
