"""Start-up and memory benchmarks (issue 16), each figure next to a baseline measured in the
same run, so that a regression shows as a ratio rather than an absolute time that depends on
the machine and its load:

  startup   an officer command's start-up (log, report daily, stats, check-config): the
            whole command on a 1,000,000-record ledger, given a day or a worker with next to
            nothing to read (an empty day, one worker's day), against `sqlite-utils tables`
            on the same ledger in the same venv, wall and CPU time             [≤ 1.2×]
            (the same commands on a full day follow, for scale)
  report    `gate-station report daily` on that ledger, whole command, against its query
            alone (`daily_report` in this process, ledger open)                [≤ 250 ms]
  daemon    the gate daemon on fakes, holding a bundle (2 keys, 1,000 revocations): resident
            memory once running (RSS, and its anonymous and file-backed parts), against a
            bare `python -c 'import sqlite3'`; `gate-station-daemon` as the unit runs it
            (PYTHONOPTIMIZE=2), without that, `gate-station run`, and a serial scanner
                                                                               [≤ 80 MB]
  imports   what each library costs to import: CPU time and resident memory, each in a
            fresh interpreter, against the bare interpreter

Times are medians over --runs fresh processes, the command and its baseline alternating; CPU
is user+system time of the child (less sensitive to other load than wall time). A Raspberry
Pi 4 core is about 3-4× slower than this machine's: the Pi column is CPU × 3 … × 4, an
estimate, not a measurement. The package is compiled to bytecode first, as `pip install`
does on a station (see `compile_bytecode`).

    python bench/lean.py [startup report daemon imports] [--ledger PATH] [--runs 11]

The 1M-record ledger is built once (a few minutes) at --ledger (default
var/bench/ledger-1000000.db) and reused while it holds enough records.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
DAY = dt.date(2021, 2, 20)  # inside the returning window: alarms and due tests to find


def ensure_ledger(path: Path, records: int) -> Path:
    """The benchmark ledger at `path`, built (bench/gate.py's realistic rows) if missing."""
    from station.ledger import Ledger

    if path.exists():
        with Ledger.open_readonly(path) as ledger:
            if ledger.count() >= records:
                return path
        raise SystemExit(f"{path} holds fewer than {records:,} records: remove it or pass "
                         "another --ledger")
    sys.path.insert(0, str(ROOT / "bench"))
    from gate import build_big_ledger

    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"building a {records:,}-record ledger at {path} (once; reused afterwards) …",
          flush=True)
    started = time.perf_counter()
    build_big_ledger(path, records, per_day=5000)
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def run_once(command: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run of `command`, which must succeed."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = (time.perf_counter() - started) * 1000
    assert process.stderr is not None
    error = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{error}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def medians(commands: Mapping[str, Sequence[str]], runs: int) -> dict[str, tuple[float, float]]:
    """Median (wall ms, CPU ms) of each command, the commands interleaved run by run."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for command in commands.values():  # one warm-up run each (page cache, .pyc)
        run_once(command)
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(run_once(command))
    return {name: (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
            for name, got in samples.items()}


def compile_bytecode() -> None:
    """Compile the package's modules to bytecode, as `pip install .` (scripts/install.sh) does
    on a station. A development checkout run with PYTHONDONTWRITEBYTECODE=1 (this machine's
    shell sets it) would otherwise compile every station module from source at each start:
    20–40 ms more CPU per command, which a Pi never pays (its unit's read-only /opt could not keep
    the result anyway)."""
    import compileall

    for package in ("station", "drivers", "sync"):
        if not compileall.compile_dir(ROOT / package, quiet=1):
            raise SystemExit(f"could not compile {package}/ to bytecode")


def pi(cpu_ms: float) -> str:
    return f"~{cpu_ms * 3:.0f}–{cpu_ms * 4:.0f} ms"


def bench_startup(ledger: Path, runs: int) -> None:
    station, where = str(BIN / "gate-station"), ["--ledger", str(ledger), "--config",
                                                 str(ROOT / "config.yaml")]
    empty = "2020-12-31"  # the day before the ledger's first: every query finds nothing
    baseline = "sqlite-utils tables (baseline)"
    commands = {
        baseline: [str(BIN / "sqlite-utils"), "tables", str(ledger)],
        "log --date D --subject S (1 worker)": [station, "log", "--date", DAY.isoformat(),
                                                "--subject", "W0000007", *where],
        "report daily --date EMPTY": [station, "report", "daily", "--date", empty, *where],
        "stats --days 1 --until EMPTY": [station, "stats", "--days", "1", "--until", empty,
                                         *where],
        "check-config": [station, "check-config", "--config", str(ROOT / "config.yaml")],
        "report daily --date D (3,000 people)": [station, "report", "daily", "--date",
                                                 DAY.isoformat(), *where],
        "stats --until D (7 days, 35,000 entries)": [station, "stats", "--until",
                                                     DAY.isoformat(), *where],
        "python -c pass (the interpreter alone)": [sys.executable, "-c", "pass"],
    }
    found = medians(commands, runs)
    base_wall, base_cpu = found[baseline]
    print(f"startup: whole command, median of {runs} runs, on a {ledger.stat().st_size / 1e6:.0f}"
          " MB ledger; ratios to the baseline (target ≤ 1.2×)")
    print(f"  {'command':42} {'wall':>7} {'ratio':>6} {'CPU':>7} {'ratio':>6}  Pi 4 estimate")
    for name, (wall, cpu) in found.items():
        print(f"  {name:42} {wall:4.0f} ms {wall / base_wall:5.2f}× {cpu:4.0f} ms "
              f"{cpu / base_cpu:5.2f}×  {pi(cpu)}")
    print("  (sqlite-utils imports numpy, whose OpenBLAS threads add CPU time on a second core "
          "while the command starts: its CPU time exceeds its wall time on an idle machine)")


def bench_report(ledger: Path, runs: int) -> None:
    from station.config import PolicySettings
    from station.ledger import Ledger
    from station.reports import daily_report

    walls, cpus = [], []
    with Ledger.open_readonly(ledger) as opened:
        daily_report(opened, DAY, PolicySettings())  # warm the page cache like the command's
        for _ in range(runs):
            wall0, cpu0 = time.perf_counter(), time.process_time()
            report = daily_report(opened, DAY, PolicySettings())
            walls.append((time.perf_counter() - wall0) * 1000)
            cpus.append((time.process_time() - cpu0) * 1000)
    query_wall, query_cpu = statistics.median(walls), statistics.median(cpus)
    command = [str(BIN / "gate-station"), "report", "daily", "--date", DAY.isoformat(),
               "--ledger", str(ledger), "--config", str(ROOT / "config.yaml")]
    (whole_wall, whole_cpu), = medians({"report": command}, runs).values()
    print(f"report: daily register for {DAY} ({len(report.people)} people, "
          f"{len(report.alarms)} alarms, {len(report.due_tests)} tests due), median of {runs}")
    print(f"  whole command   {whole_wall:6.0f} ms wall {whole_cpu:6.0f} ms CPU   "
          f"(target ≤ 250 ms; Pi 4 estimate {pi(whole_cpu)})")
    print(f"  query alone     {query_wall:6.0f} ms wall {query_cpu:6.0f} ms CPU   "
          f"(Pi 4 estimate {pi(query_cpu)})")
    print(f"  whole / query   {whole_wall / query_wall:6.1f}×; start-up, config and output "
          f"{whole_wall - query_wall:.0f} ms wall")


def resident(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon, RssFile and Pss of a process, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status.splitlines()
             if line.startswith(("VmRSS", "VmHWM", "RssAnon", "RssFile"))}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            found["Pss"] = int(line.split()[1]) / 1024
    return found


def running_rss(command: Sequence[str], settle_s: float,
                env: Mapping[str, str] | None = None) -> dict[str, float]:
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    try:
        time.sleep(settle_s)
        if process.poll() is not None:
            raise SystemExit(f"{' '.join(command)} exited with {process.returncode}")
        return resident(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


REVOCATIONS = 1000  # a town's revocation list, as the bundle a station holds carries it


def write_bundle(path: Path) -> None:
    """A station bundle as the sync client leaves it on disk: two issuer keys (EdDSA and
    ES256), REVOCATIONS revocations and one town rule, so the daemon holds what a working
    station holds (a station without a bundle trusts nobody and is not the one to measure)."""
    import base64
    import hashlib
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    keys = []
    for alg, private in (("EdDSA", ed25519.Ed25519PrivateKey.generate()),
                         ("ES256", ec.generate_private_key(ec.SECP256R1()))):
        der = private.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        keys.append({"kid": base64.b64encode(hashlib.sha256(der).digest()[:8]).decode(),
                     "alg": alg, "spki": base64.b64encode(der).decode()})
    revocations = [{"sub": f"W{n:07d}", "before": 1_614_000_000} for n in range(REVOCATIONS)]
    path.write_text(json.dumps({"version": "bench-1",
                                "trust": {"keys": keys, "revocations": revocations},
                                "rules": {"fever_threshold_c": 37.3}}), encoding="utf-8")


def compile_optimized() -> None:
    """Compile the venv's and the standard library's bytecode for PYTHONOPTIMIZE=2, as
    scripts/install.sh does for the unit (once; later runs find it up to date). A file that
    does not compile (the library's own bad-syntax tests) is not one the daemon loads."""
    import sysconfig

    subprocess.run([sys.executable, "-OO", "-m", "compileall", "-qq", "-j", "0",
                    str(ROOT / "station"), str(ROOT / "drivers"), str(ROOT / "sync"),
                    str(Path(sys.prefix)), sysconfig.get_paths()["stdlib"]], check=False)


def bench_daemon(workdir: Path, settle_s: float, runs: int) -> None:
    compile_optimized()
    write_bundle(workdir / "bundle.json")
    unit_env = {"PYTHONOPTIMIZE": "2"}  # as systemd/gate-station.service sets it
    daemon, full = str(BIN / "gate-station-daemon"), [str(BIN / "gate-station"), "run"]
    variants: dict[str, tuple[list[str], dict[str, str], str]] = {
        "gate-station-daemon, as the unit runs it": ([daemon], unit_env, ""),
        "  the same without PYTHONOPTIMIZE=2": ([daemon], {}, ""),
        "  `gate-station run` (the whole command line)": (full, {}, ""),
        "serial scanner, as the unit runs it (no numpy, no decoders)":
            ([daemon], unit_env, "scanner:\n  type: serial\n"),
    }
    baseline = [sys.executable, "-c", "import sqlite3, time; time.sleep(60)"]
    bare = [running_rss(baseline, 2.0) for _ in range(runs)]
    bare_rss = statistics.median(b["VmRSS"] for b in bare)
    print(f"daemon: on fakes, camera fake at 15 frames/s, a bundle of 2 keys and "
          f"{REVOCATIONS:,} revocations, {settle_s:.0f} s after start, median of {runs} "
          "(target ≤ 80 MB)")
    # RssFile, the pages of shared libraries mapped in, depends on the page cache as well as
    # on the program: libraries installed minutes ago sit in the cache as large folios, and a
    # fault maps a whole folio (cv2's module: 28 MB instead of 10 MB in a fresh venv, the same
    # 10 MB again after `echo 1 > /proc/sys/vm/drop_caches`). RssAnon is the program's own.
    print(f"  {'configuration':62} {'RSS':>7} {'peak':>7} {'PSS':>7} {'anon':>7} {'file':>7}"
          "  ratio to bare")
    print(f"  {'python -c import sqlite3 (baseline)':62} {bare_rss:5.0f} MB")
    for index, (name, (command, env, extra)) in enumerate(variants.items()):
        config = workdir / f"daemon-{index}.yaml"
        config.write_text(f"drivers: fake\nledger:\n  path: {workdir / f'daemon-{index}.db'}\n"
                          f"bundle:\n  path: {workdir / 'bundle.json'}\n{extra}",
                          encoding="utf-8")
        got = [running_rss([*command, "--config", str(config)], settle_s, env)
               for _ in range(runs)]
        rss = statistics.median(g["VmRSS"] for g in got)
        peak = statistics.median(g["VmHWM"] for g in got)
        pss = statistics.median(g["Pss"] for g in got)
        anon = statistics.median(g["RssAnon"] for g in got)
        file = statistics.median(g["RssFile"] for g in got)
        print(f"  {name:62} {rss:5.1f} MB {peak:5.1f} MB {pss:5.1f} MB {anon:5.1f} MB "
              f"{file:5.1f} MB  {rss / bare_rss:5.1f}×")


IMPORT_PROBE = """
import resource, sys, time
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
before_rss, before_cpu = rss(), cpu()
STATEMENT
print((cpu() - before_cpu) * 1000, rss() - before_rss)
"""

IMPORTS = {
    "click": "import click",
    "PyYAML": "import yaml",
    "pydantic (BaseModel)": "import pydantic.main",
    "station.config + load config.yaml": "import station.config as c; c.load('config.yaml')",
    "numpy": "import numpy",
    "numpy + OpenCV (cv2)": "import numpy, cv2",
    "numpy + zxing-cpp": "import numpy, zxingcpp",
    "numpy + pyzbar (libzbar)": "import numpy; from pyzbar import wrapper",
    "cryptography (ed25519, ec)": "from cryptography.hazmat.primitives.asymmetric import ec, "
                                  "ed25519",
    "cbor2 + base45": "import cbor2, base45",
    "gpiozero (MockFactory)": "from gpiozero.pins.mock import MockFactory",
    "httpx": "import httpx",
    "fastapi + uvicorn": "import fastapi, uvicorn",
}


def bench_imports(runs: int) -> None:
    print(f"imports: each in a fresh interpreter, median of {runs}; CPU and RSS added to the "
          "bare interpreter's")
    _, bare_cpu = medians({"bare": [sys.executable, "-c", "pass"]}, runs)["bare"]
    print(f"  {'bare interpreter (python -c pass)':36} {bare_cpu:6.0f} ms CPU (whole process)")
    for name, statement in IMPORTS.items():
        cpus, rsss = [], []
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c",
                                  IMPORT_PROBE.replace("STATEMENT", statement)],
                                 cwd=ROOT, capture_output=True, text=True, check=True).stdout
            cpu, rss = (float(x) for x in out.split())
            cpus.append(cpu)
            rsss.append(rss)
        print(f"  {name:36} +{statistics.median(cpus):5.0f} ms CPU  "
              f"+{statistics.median(rsss):5.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", default=["startup", "report", "daemon", "imports"])
    parser.add_argument("--ledger", type=Path, default=None,
                        help="the benchmark ledger (default var/bench/ledger-RECORDS.db)")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--settle", type=float, default=6.0,
                        help="seconds after the daemon's start before its memory is read")
    args = parser.parse_args()
    ledger_path = args.ledger or ROOT / "var" / "bench" / f"ledger-{args.records}.db"
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="gate-lean-") as scratch:
        workdir = Path(scratch)
        for which in args.which:
            if which == "startup":
                bench_startup(ensure_ledger(ledger_path, args.records), args.runs)
            elif which == "report":
                bench_report(ensure_ledger(ledger_path, args.records), args.runs)
            elif which == "daemon":
                bench_daemon(workdir, args.settle, max(1, args.runs // 4))
            elif which == "imports":
                bench_imports(max(3, args.runs // 2))
            else:
                parser.error(f"unknown benchmark {which!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
