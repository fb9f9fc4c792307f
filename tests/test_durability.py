"""kill -9 at random instants never loses a record whose gate action happened.

A real `gate-station simulate` process runs a long shift into one ledger and is killed with
SIGKILL at random points, again and again (each run appends to the same ledger). The
process prints a record only after it is committed and the gate has acted on it, so every
printed record must be in the ledger, identical; the ledger must stay consistent with seqs
1..N and no gaps.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from station.ledger import Ledger
from station.shift import dump, morning_shift

ROOT = Path(__file__).resolve().parent.parent
KILLS = int(os.environ.get("GATE_KILL_RUNS", "25"))


def test_kill_9_at_random_points_loses_nothing(tmp_path: Path) -> None:
    scenario = tmp_path / "shift.yaml"
    scenario.write_text(dump(morning_shift(400, seed=7)), encoding="utf-8")
    ledger_path = tmp_path / "ledger.db"
    rng = random.Random(1)
    printed: dict[str, dict[str, object]] = {}
    killed_mid_run = 0
    for _ in range(KILLS):
        process = subprocess.Popen(
            [sys.executable, "-c", "from station.cli import main; main()", "simulate",
             str(scenario), "--json", "--ledger", str(ledger_path), "--config", "config.yaml"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "GATE_STATION_DRIVERS": "fake"})
        assert process.stdout is not None
        wanted = rng.randrange(0, 60)
        lines: list[str] = []
        while len(lines) < wanted:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
        time.sleep(rng.uniform(0, 0.05))  # land anywhere: mid-measure, mid-commit, mid-print
        process.send_signal(signal.SIGKILL)
        rest, _ = process.communicate(timeout=60)
        killed_mid_run += process.returncode == -signal.SIGKILL
        for line in [*lines, *rest.splitlines(keepends=True)]:
            if line.endswith("\n"):  # a line cut by the kill was never fully printed
                record = json.loads(line)
                printed[str(record["event_id"])] = record
    assert killed_mid_run >= KILLS * 0.8

    conn = sqlite3.connect(ledger_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Ledger(ledger_path) as ledger:
        stored = {r.event_id: r.to_json() for r in ledger.all_records()}
        seqs = [r.seq for r in ledger.all_records()]
    assert seqs == list(range(1, len(seqs) + 1))  # no gaps, nothing reused
    missing = [event for event in printed if event not in stored]
    assert missing == [], f"{len(missing)} printed records are not in the ledger"
    for event, record in printed.items():
        for key, value in record.items():
            assert stored[event][key] == value, (event, key)
    assert len(printed) > KILLS  # the runs did real work between kills
