"""Shared by the console tests: a ledger with known records, a console app on it, logged-in
clients for each role."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from station.clock import CST
from station.config import Config, validate
from station.console.app import create_app, make_console
from station.console.state import Console
from station.ledger import Ledger, Record

DAY = dt.date(2021, 2, 22)
OFFICER, OFFICER_PASSWORD = "officer1", "officer-password-1"
GUARD, GUARD_PASSWORD = "guard1", "guard-password-1"
HOSTILE_NAME = '<script>alert("x")</script>=1+2'


def record(kind: str, at: str, day: dt.date = DAY, **fields: Any) -> Record:
    when = dt.datetime.combine(day, dt.time.fromisoformat(at), CST)
    return Record(kind=kind, time=when.isoformat(timespec="milliseconds"),  # type: ignore[arg-type]
                  day=day.isoformat(), clock_synced=True, boot_id="test", boottime_ns=1,
                  **fields)


def entry(at: str, subject: str | None, name: str | None, temperature: float | None,
          decision: str = "admit", reasons: tuple[str, ...] = (), day: dt.date = DAY,
          **fields: Any) -> Record:
    return record("entry", at, day, direction="in", subject=subject, name=name,
                  color=fields.pop("color", "green" if subject else None),
                  temperature_c=temperature,
                  readings=(temperature,) if temperature is not None else (),
                  decision=decision, reasons=reasons, org="HL-JX-001", issuer="500118",
                  **fields)


def fill_ledger(path: Path) -> Ledger:
    """A day of known records: admits, a fever (entry + alarm), a yellow code, a returning
    worker, a hostile name, a fault and its recovery, an exit; one record the day before."""
    ledger = Ledger(path)
    ledger.append(entry("07:59:00", "W0000001", "王*", 36.5, day=DAY - dt.timedelta(days=1)))
    ledger.append(entry("08:00:00", "W0000001", "王*", 36.5))
    ledger.append(entry("08:01:00", "W0000002", "李*", 36.9))
    fever = entry("08:02:00", "W0000003", "张*", 37.8, "deny", ("fever",))
    ledger.append(fever, record("alarm", "08:02:00", direction="in", subject="W0000003",
                                name="张*", temperature_c=37.8, readings=(37.9, 37.8),
                                decision="deny", reasons=("fever",), detail="fever 37.8 °C"))
    ledger.append(entry("08:03:00", "W0000004", "赵*", 36.6, "deny", ("color",),
                        color="yellow"))
    ledger.append(entry("08:04:00", "W0000005", "钱*", 36.4, "deny", ("followup-nat-due",),
                        nat="2021-02-08", returned="2021-02-10",
                        origin="outside-municipality"))
    ledger.append(entry("08:05:00", "W0000666", HOSTILE_NAME, 36.7))
    ledger.append(record("fault", "08:06:00", device="thermometer", detail="I2C error"))
    ledger.append(entry("08:07:00", None, None, None, "deny", ("signature",)))
    ledger.append(record("fault", "08:08:00", device="thermometer", detail="recovered"))
    ledger.append(record("exit", "08:09:00", direction="out"))
    ledger.append(entry("08:10:00", "W0000001", "王*", 36.6))  # a second entry the same day
    return ledger


def make_config(tmp: Path, **console: Any) -> Config:
    return validate({"station": {"id": "test-01", "enterprise": "红炉机械厂"},
                     "ledger": {"path": str(tmp / "ledger.db")},
                     "bundle": {"path": str(tmp / "bundle.json")},
                     "console": {"accounts_path": str(tmp / "console.db"), **console}},
                    "test")


def make_app(tmp: Path, **console_settings: Any) -> tuple[Console, Any]:
    config = make_config(tmp, **console_settings)
    console = make_console(config)
    console.accounts.add_user(OFFICER, "officer", OFFICER_PASSWORD)
    console.accounts.add_user(GUARD, "guard", GUARD_PASSWORD)
    return console, create_app(console)


def login_token(client: TestClient) -> str:
    page = client.get("/login")
    return csrf_of(page.text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def log_in(client: TestClient, name: str, password: str) -> Any:
    return client.post("/login", data={"name": name, "password": password, "next": "/",
                                       "csrf": login_token(client)}, follow_redirects=False)
