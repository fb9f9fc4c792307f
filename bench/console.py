"""Station console benchmarks (issue targets in brackets), on a 1,000,000-record ledger of
3,000 people a day (333 days up to 2021-02-28), with the console running as its own process
(`gate-station console`) and measured over HTTP on 127.0.0.1:

  pages   server time of every page, p50/p95 over 20 requests each, and the console
          process's CPU ms per request (load-independent)                 [p95 ≤ 100 ms]
  xlsx    a month's register as XLSX (28 days, 84,000 rows): wall time, and the console's
          peak RSS meanwhile                                           [≤ 5 s, ≤ 120 MB]
  idle    the console's RSS after start-up and a first page                      [≤ 80 MB]

    python bench/console.py [--ledger var/bench-console.db] [--rounds 20]
                            [--xlsx-runs 1] [--xlsx-only]

The ledger is built once (about a minute) and kept; pass another path to build afresh.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station.clock import CST  # noqa: E402
from station.ledger import Ledger, Record  # noqa: E402

LAST_DAY = dt.date(2021, 2, 28)
PER_DAY = 3000
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁"
            "谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程")


def build_ledger(path: Path, records: int = 1_000_000) -> None:
    """`records` realistic rows in bulk (not through the gate): morning arrivals, 1 % with
    a fever re-checked, a few yellow codes and no-code people, returning workers inside the
    2021 window, a fault now and then, exits."""
    rng = random.Random(10)
    ledger = Ledger(path)
    synced_before = (LAST_DAY - dt.timedelta(days=2)).isoformat()
    synced: list[int] = []
    days = -(-records // PER_DAY)
    first = LAST_DAY - dt.timedelta(days=days - 1)
    names = [rng.choice(SURNAMES) + "*" for _ in range(PER_DAY)]
    written = 0
    for number in range(days):
        day = first + dt.timedelta(days=number)
        batch: list[Record] = []
        for slot in range(min(PER_DAY, records - written)):
            seconds = int(rng.gauss(5400, 1800)) % 50000  # mostly 07:00–10:00
            when = dt.datetime.combine(day, dt.time(6, 30), CST) + dt.timedelta(
                seconds=seconds)
            roll = rng.random()
            temperature = round(rng.gauss(36.5, 0.25), 1)
            reasons: tuple[str, ...] = ()
            color = "green"
            if roll < 0.01:
                temperature = round(rng.uniform(37.3, 39.0), 1)
                reasons = ("fever",)
            elif roll < 0.015:
                color, reasons = "yellow", ("color",)
            returned = None
            if dt.date(2021, 1, 28) <= day and rng.random() < 0.05:
                returned = (day - dt.timedelta(days=rng.randrange(0, 20))).isoformat()
            record = Record(
                kind="entry", time=when.isoformat(timespec="milliseconds"),
                day=day.isoformat(), clock_synced=True, boot_id="b", boottime_ns=slot,
                direction="in", subject=f"W{slot:07d}", name=names[slot], issuer="500118",
                org="HL-JX-001", color=color, temperature_c=temperature,
                readings=(temperature,), decision="deny" if reasons else "admit",
                reasons=reasons, returned=returned,
                origin="outside-municipality" if returned else None,
                nat=(dt.date.fromisoformat(returned) - dt.timedelta(days=2)).isoformat()
                if returned else None, event_id=str(uuid.UUID(int=rng.getrandbits(128))))
            batch.append(record)
            if reasons == ("fever",):
                batch.append(Record(**{**record.__dict__, "kind": "alarm", "seq": None,
                                       "detail": f"fever {temperature} °C",
                                       "event_id": str(uuid.UUID(int=rng.getrandbits(128)))}))
        batch.sort(key=lambda record: record.time)
        appended = ledger.append(*batch)  # one transaction per day
        if day.isoformat() < synced_before:
            synced += [record.seq for record in appended if record.seq is not None]
        written += len(batch)
    ledger.mark_synced(synced, max(synced, default=0))  # all but the last two days
    ledger.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far: a figure that, unlike
    wall time, does not grow when other work shares the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def start_console(ledger: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = workdir / "config.yaml"
    config.write_text(f"station:\n  enterprise: 红炉机械厂\nledger:\n  path: {ledger}\n"
                      f"bundle:\n  path: {workdir / 'bundle.json'}\n"
                      f"console:\n  accounts_path: {workdir / 'console.db'}\n"
                      f"  listen: 127.0.0.1:{port}\n", encoding="utf-8")
    command = [sys.executable, "-c", "from station.cli import main; main()"]
    subprocess.run([*command, "console", "user", "add", "bench", "--role", "officer",
                    "--config", str(config)], input=b"bench-password\n", check=True,
                   capture_output=True, cwd=ROOT)
    process = subprocess.Popen([*command, "console", "--config", str(config)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/login", timeout=1)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the console did not start")


def log_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    response = client.post("/login", data={"name": "bench", "password": "bench-password",
                                           "csrf": token.group(1)})
    assert response.status_code in (200, 303), response.status_code
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ledger", type=Path, default=ROOT / "var/bench-console.db")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--xlsx-runs", type=int, default=1,
                        help="month XLSX exports to time one after the other")
    parser.add_argument("--xlsx-only", action="store_true",
                        help="skip the pages (idle RSS is still measured)")
    args = parser.parse_args()
    if not args.ledger.exists():
        args.ledger.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        build_ledger(args.ledger)
        print(f"built {args.ledger} ({args.ledger.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - started:.0f} s")
    Ledger(args.ledger).close()  # brings a ledger kept from an older version to this schema
    with Ledger.open_readonly(args.ledger) as ledger:
        count = ledger.count()
        newest = dt.date.fromisoformat(ledger.newest_day() or LAST_DAY.isoformat())
    newest -= dt.timedelta(days=1)  # the last day may be part-filled: use a whole one
    day = newest.isoformat()
    week = (newest - dt.timedelta(days=6)).isoformat()
    pages = {
        "gate": "/", "register": f"/register?date={day}",
        "records, a day": f"/records?from={day}&to={day}",
        "records, a week, denied, page 3": f"/records?from={week}&to={day}&decision=deny"
                                           "&page=3",
        "records, a year, fever": f"/records?from=2020-03-01&to={day}&reason=fever",
        "record detail": "/records/500000", "alarms": "/alarms",
        "returning": f"/returning?date={day}", "stats": f"/stats?date={day}",
        "health": "/health",
        "what-if": f"/whatif?run=1&date={day}&fever_threshold_c=37.0&color=green",
        "display": "/display",
    }
    with tempfile.TemporaryDirectory(prefix="bench-console-") as scratch:
        process, base = start_console(args.ledger, Path(scratch))
        try:
            client = log_in(base)
            client.get("/")
            time.sleep(1)
            print(f"ledger: {count:,} records; console idle after start-up and a first page: "
                  f"RSS {rss_mb(process.pid):.0f} MB  [≤ 80 MB]")
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            if not args.xlsx_only:
                print(f"{'page':<34} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms':>7}  [p95 ≤ 100 ms]")
            for name, path in ({} if args.xlsx_only else pages).items():
                times = []
                cpu_before = cpu_seconds(process.pid)
                for _ in range(args.rounds):
                    started = time.perf_counter()
                    response = client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (path, response.status_code)
                cpu_ms = (cpu_seconds(process.pid) - cpu_before) * 1000 / args.rounds
                times.sort()
                p95 = times[max(0, round(0.95 * len(times)) - 1)]
                print(f"{name:<34} {statistics.median(times):>8.1f} {p95:>8.1f} {cpu_ms:>7.1f}"
                      f"  ({len(response.content) // 1024} KB)", flush=True)
            first = (newest - dt.timedelta(days=27)).isoformat()
            for _ in range(max(1, args.xlsx_runs)):
                load = os.getloadavg()[0]
                started, cpu_before = time.perf_counter(), cpu_seconds(process.pid)
                response = client.get(f"/register.xlsx?from={first}&to={day}")
                elapsed = time.perf_counter() - started
                cpu = cpu_seconds(process.pid) - cpu_before
                assert response.status_code == 200
                peak = rss_mb(process.pid, "VmHWM")
                print(f"month XLSX {first} … {day}: {elapsed:.1f} s ({cpu:.1f} CPU s, load "
                      f"{load:.1f}), {len(response.content) / 1e6:.1f}"
                      f" MB; console peak RSS {peak:.0f} MB  [≤ 5 s, ≤ 120 MB]", flush=True)
            import io

            import openpyxl

            book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
            rows = sum(max(0, (sheet.max_row or 0) - 5) for sheet in book.worksheets)
            print(f"  {len(book.sheetnames)} sheets, ~{rows:,} register rows")
        finally:
            process.terminate()
            process.wait(10)
    os.sync()


if __name__ == "__main__":
    main()
