"""Gate benchmarks (issue targets in brackets):

  latency   decision latency, decoded code → relay command, temperature sampling excluded,
            ledger on disk at synchronous=FULL                                  [p99 ≤ 20 ms]
  simulate  `gate-station simulate` of a 1,000-person shift, wall time           [≤ 10 s]
  report    `report daily` for one day of a 1,000,000-record ledger             [≤ 200 ms]
  daemon    `gate-station run` on fakes, camera fake at 15 frames/s: resident memory and
            idle CPU                                                 [≤ 120 MB, ≤ 25 % core]

    python bench/gate.py [latency simulate report daemon] [--people 1000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station.clock import CST, VirtualClock  # noqa: E402
from station.ledger import Ledger, Record  # noqa: E402


def bench_latency(people: int, workdir: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from station import hardware
    from station.codes import Color, HealthClaims, issue
    from station.config import PolicySettings, validate
    from station.gate import Gate
    from station.testing import ScriptedThermometer
    from station.trust import TrustList, trust_entry

    clock = VirtualClock()
    # the same factory functions as the daemon and simulate, every device on its fake
    devices, fakes = hardware.on_fakes(validate({}, "(bench)")), hardware.Fakes()
    driver = hardware.build_thermometer(devices, fakes, sleep=clock.sleep,
                                        monotonic=clock.monotonic)
    assert fakes.smbus is not None
    thermometer = ScriptedThermometer(driver, fakes.smbus)
    scanner = hardware.build_scanner(devices, fakes, sleep=clock.sleep, monotonic=clock.monotonic)
    outputs = hardware.build_outputs(devices, fakes)
    key = ed25519.Ed25519PrivateKey.generate()
    trust = TrustList.from_document({"keys": [trust_entry(key.public_key(), "500118")]})
    policy = PolicySettings()
    ledger = Ledger(workdir / "latency.db")
    gate = Gate(thermometer=thermometer, scanner=scanner, outputs=outputs, ledger=ledger,
                trust=lambda: trust, policy=lambda: policy, clock=clock)
    now = int(clock.now().timestamp())
    codes = [issue(key, HealthClaims(iss="500118", iat=now - 60, exp=now + 86400,
                                     sub=f"W{i:07d}", color=Color.GREEN)) for i in range(people)]
    for text in codes:  # handle_code is what step() calls right after the decoder returns
        thermometer.readings.append(36.5 if random.random() > 0.02 else 38.0)
        gate.handle_code(text)
        thermometer.end_of_person()
    outputs.close()
    ledger.close()
    ms = sorted(x * 1000 for x in gate.latencies_s)
    p99 = statistics.quantiles(ms, n=100)[98]
    print(f"latency: {len(ms)} decisions, median {statistics.median(ms):.2f} ms, "
          f"p99 {p99:.2f} ms, max {ms[-1]:.2f} ms (ledger {workdir}, synchronous=FULL)")


def bench_simulate(people: int, workdir: Path) -> None:
    from station.shift import dump, morning_shift

    scenario = workdir / "shift.yaml"
    scenario.write_text(dump(morning_shift(people, minutes=max(60, people // 8))),
                        encoding="utf-8")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", "from station.cli import main; main()", "simulate",
         str(scenario), "--json", "--config", str(ROOT / "config.yaml")],
        capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(result.stderr)
    lines = len(result.stdout.splitlines())
    print(f"simulate: {people}-person shift → {lines} records in {elapsed:.2f} s wall "
          f"(process start included); {result.stderr.strip()}")


def build_big_ledger(path: Path, records: int, per_day: int) -> None:
    """A ledger with `records` realistic rows, appended 10,000 per transaction (not through
    the gate)."""
    ledger = Ledger(path)
    rng = random.Random(3)
    start = dt.datetime(2021, 1, 1, 7, 0, tzinfo=CST)
    batch: list[Record] = []
    for index in range(records):
        day, slot = divmod(index, per_day)
        when = start + dt.timedelta(days=day, seconds=slot * 40000 / per_day)
        subject = f"W{slot % 3000:07d}"
        fever = rng.random() < 0.003
        returned = (when.date() - dt.timedelta(days=rng.randrange(1, 20))).isoformat() \
            if rng.random() < 0.05 else None
        record = Record(kind="entry", time=when.isoformat(timespec="milliseconds"),
                        day=when.date().isoformat(), clock_synced=True, boot_id="b",
                        boottime_ns=index, direction="in", subject=subject, name="张*",
                        issuer="500118", color="green", temperature_c=38.0 if fever else 36.5,
                        readings=(36.5,), decision="deny" if fever else "admit",
                        reasons=("fever",) if fever else (), returned=returned,
                        origin="outside-municipality" if returned else None,
                        event_id=str(uuid.UUID(int=rng.getrandbits(128))))
        batch.append(record)
        if fever:
            batch.append(Record(**{**record.__dict__, "kind": "alarm", "seq": None,
                                   "event_id": str(uuid.UUID(int=rng.getrandbits(128)))}))
        if len(batch) >= 10000:
            ledger.append(*batch)
            batch.clear()
    ledger.append(*batch)
    ledger.close()


def bench_report(workdir: Path, records: int = 1_000_000, per_day: int = 5000) -> None:
    from station.config import PolicySettings
    from station.reports import daily_report

    path = workdir / "big.db"
    started = time.perf_counter()
    build_big_ledger(path, records, per_day)
    print(f"report: built a {records:,}-record ledger ({per_day}/day, "
          f"{path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    day = dt.date(2021, 2, 20)  # inside the returning window: alarms and due tests to find
    times = []
    for _ in range(5):
        with Ledger.open_readonly(path) as ledger:
            started = time.perf_counter()
            report = daily_report(ledger, day, PolicySettings())
            times.append((time.perf_counter() - started) * 1000)
    print(f"report: daily register for {day} ({len(report.people)} people, "
          f"{len(report.alarms)} alarms, {len(report.due_tests)} tests due): "
          f"median {statistics.median(times):.0f} ms, worst {max(times):.0f} ms "
          f"(query time, open ledger)")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from station.cli import main; main()", "report",
                    "daily", "--date", day.isoformat(), "--ledger", str(path), "--config",
                    str(ROOT / "config.yaml")], check=True, capture_output=True, cwd=ROOT)
    print(f"report: the whole `gate-station report daily` command: "
          f"{(time.perf_counter() - started) * 1000:.0f} ms wall (process start included)")


def bench_daemon(seconds: float, workdir: Path) -> None:
    config = workdir / "config.yaml"
    config.write_text(f"drivers: fake\nledger:\n  path: {workdir / 'daemon.db'}\n"
                      f"bundle:\n  path: {workdir / 'bundle.json'}\n")
    process = subprocess.Popen(
        [sys.executable, "-c", "from station.cli import main; main()", "run", "--config",
         str(config)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tick = os.sysconf("SC_CLK_TCK")

    def cpu_seconds() -> float:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    try:
        time.sleep(5)  # start-up and imports are not idle time
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        cpu = (cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        status = Path(f"/proc/{process.pid}/status").read_text()
        rss = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
               if line.startswith(("VmRSS", "VmHWM"))}
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"daemon: resident {rss['VmRSS'] / 1024:.0f} MB (peak {rss['VmHWM'] / 1024:.0f} MB); "
          f"idle CPU {cpu * 100:.1f} % of one core over {seconds:.0f} s "
          f"(camera fake at 15 frames/s, every frame through the decoder chain)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", default=["latency", "simulate", "report", "daemon"])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None,
                        help="work directory on the disk to measure (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-bench-", dir=args.dir) as scratch:
        workdir = Path(scratch)
        for which in args.which:
            if which == "latency":
                bench_latency(args.people, workdir)
            elif which == "simulate":
                bench_simulate(args.people, workdir)
            elif which == "report":
                bench_report(workdir, args.records)
            elif which == "daemon":
                bench_daemon(args.seconds, workdir)
            else:
                parser.error(f"unknown benchmark {which!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
