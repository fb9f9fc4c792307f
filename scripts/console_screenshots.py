"""Screenshots of every console page at 360 px and 1280 px wide, with headless Chromium
(Debian's, through Playwright): `python scripts/console_screenshots.py BASE_URL USER PASSWORD
OUTDIR [DATE]`. Used for docs/ and to look at the pages after a change."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    base, user, password, outdir = sys.argv[1:5]
    day = sys.argv[5] if len(sys.argv) > 5 else "2021-02-22"
    pages = {
        "gate": "/", "register": f"/register?date={day}",
        "records": f"/records?from={day}&to={day}", "record": "/records/3", "alarms": "/alarms",
        "returning": f"/returning?date={day}", "stats": f"/stats?date={day}",
        "health": "/health",
        "whatif": f"/whatif?run=1&date={day}&fever_threshold_c=37.0&color=green"
                  "&during_monitoring=deny",
        "display": "/display", "login": "/login", "bad-input": "/records?from=2021-13-40",
    }
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for width, height in ((360, 740), (1280, 900)):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.goto(base + "/login")
            page.fill("input[name=name]", user)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            for name, path in pages.items():
                if name == "login":
                    continue
                page.goto(base + path)
                page.wait_for_load_state("networkidle") if name not in ("gate", "display") \
                    else page.wait_for_timeout(500)
                # long pages are cut at 2,000 px: enough to see the layout
                tall = page.evaluate("document.documentElement.scrollHeight")
                page.screenshot(path=str(out / f"console-{name}-{width}.png"),
                                full_page=name != "display",
                                clip={"x": 0, "y": 0, "width": width,
                                      "height": min(tall, 2000)} if name != "display"
                                else None)
            login = browser.new_context(viewport={"width": width, "height": height}).new_page()
            login.goto(base + "/login")
            login.screenshot(path=str(out / f"console-login-{width}.png"))
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
