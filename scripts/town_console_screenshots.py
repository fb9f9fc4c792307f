"""Screenshots of the town office console at 360 px and 1280 px wide, with headless Chromium
(Debian's, through Playwright), on a demonstration town (sync/town/office/demo.py) made in a
temporary folder and served on 127.0.0.1: `python scripts/town_console_screenshots.py OUTDIR`.
Used for docs/ and to look at the pages after a change."""

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

from station.clock import CST, cst_date
from sync.town.app import create_app
from sync.town.db import create_database
from sync.town.office.demo import fill
from sync.town.store import SqliteTownStore

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/town_console_screenshots.py OUTDIR")
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    today = cst_date(dt.datetime.now(CST))
    with tempfile.TemporaryDirectory() as folder:
        create_database(Path(folder) / "town.db")
        store = SqliteTownStore(Path(folder) / "town.db")
        fill(store, today)
        _, token = store.new_admin_token("screenshots", "demo")
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(store), host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        week = today - dt.timedelta(days=6)
        pages = {
            "overview": f"/office?date={today}",
            "enterprise": f"/office/enterprise?name=红炉机械厂&date={today}",
            "station": f"/office/station/linjiang-yard?date={today}",
            "trace": f"/office/trace?subject=W00001&from={today - dt.timedelta(days=13)}"
                     f"&to={today}",
            "returning": f"/office/returning?date={today}",
            "alarms": f"/office/alarms?from={week}&to={today}",
            "health": f"/office/health?date={today}",
            "admin": "/office/admin",
            "audit": "/office/audit",
            "bad-input": "/office?date=2021-13-40",
        }
        try:
            shoot(base, token, pages, out)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            store.close()


def shoot(base: str, token: str, pages: dict[str, str], out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for width, height in ((360, 740), (1280, 900)):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.goto(base + "/")
            page.fill("input[name=token]", token)
            page.click("form[action='/login'] button")
            page.wait_for_url(base + "/")
            for name, path in pages.items():
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                tall = page.evaluate("document.documentElement.scrollHeight")
                page.screenshot(path=str(out / f"town-{name}-{width}.png"), full_page=True,
                                clip={"x": 0, "y": 0, "width": width,
                                      "height": min(tall, 2000)})
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
