"""A power cut while the sync client marks records synced never loses an unsynced record.

The station's ledger (and the bundle the client pulls) live on the power-cut filesystem; the
town runs on an ordinary disk. `gate-station sync` pushes in small batches and marks each
acknowledged batch synced; it is cut at a random instant or at the Nth write/fsync. After
each reboot every record must still be in the ledger, and every record marked synced must
be at the town (a record may be unmarked and sent again: the town counts a duplicate).
At the end one `sync --once` catches up and the town holds every record exactly once.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from station.ledger import Ledger
from tests.powerloss.harness import MODES, ROOT, CacheMount
from tests.townkit import TownProcess, fill_ledger, town_cli

GATE = [sys.executable, "-c", "from station.cli import main; main()"]


def town_records(url: str, admin: str, epoch: str) -> list[int]:
    seqs, after = [], 0
    with httpx.Client(headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
        while True:
            page = client.get(f"{url}/api/v1/entries", params={
                "station": "gate-a", "after": after, "limit": 10000}).json()
            seqs += [entry["seq"] for entry in page["entries"] if entry["epoch"] == epoch]
            if not page["next_after"]:
                return seqs
            after = page["next_after"]


def test_a_power_cut_while_marking_synced_loses_nothing(fuse: None, cuts: Any,
                                                        tmp_path: Path) -> None:
    started = time.monotonic()
    town = TownProcess(tmp_path / "town.db")
    token = town_cli("stations", "add", "gate-a", "--enterprise", "E", "--db", str(town.db))
    admin = town_cli("admin-token", "new", "--db", str(town.db))
    town.start()
    mount = CacheMount(tmp_path / "disk", tmp_path / "mnt")
    ledger_path = mount.path("var/ledger.db")
    (tmp_path / "token").write_text(token + "\n")
    os.chmod(tmp_path / "token", 0o600)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"station:\n  id: gate-a\ndrivers: fake\nledger:\n  path: {ledger_path}\n"
        f"bundle:\n  path: {mount.path('var/bundle.json')}\ntown:\n  url: {town.url}\n"
        f"  token_file: {tmp_path / 'token'}\n  batch: 10\n  timeout_s: 2\n"
        f"  backoff_base_s: 0.05\n  backoff_cap_s: 0.2\n  idle_s: 0.1\n", encoding="utf-8")
    rng = random.Random(41)
    filled, problems, total, unmarked_at_town = 0, [], cuts(8), 0
    try:
        for number in range(total):
            mount.start()
            with Ledger(ledger_path) as ledger:
                backlog = ledger.backlog()
            if backlog < 100:
                fill_ledger(ledger_path, 300, start=filled, recent=True)
                filled += 300
            mount.stop()
            cut_at = f"{rng.choice(('write', 'fsync'))}:{rng.randint(5, 60)}" \
                if rng.random() < 0.5 else None
            mount.start(cut_at=cut_at)
            client = subprocess.Popen([*GATE, "sync", "--config", str(config)], cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if cut_at:
                mount.wait_frozen(10)  # else cut now: the client went idle
            else:
                time.sleep(rng.uniform(0.5, 2.5))
            mode = rng.choice(MODES)
            mount.cut(mode, rng.randrange(2**32), client)
            mount.start()
            try:
                with Ledger(ledger_path) as ledger:
                    rows = [{"seq": seq, "synced": synced} for seq, synced in ledger.sync_marks()]
                    epoch = ledger.epoch
            finally:
                mount.stop()
            at_town = set(town_records(town.url, admin, epoch))
            marked = {row["seq"] for row in rows if row["synced"]}
            unmarked_at_town += len(at_town - marked)  # acked, not marked: sent again
            where = f"cut {number} ({cut_at or 'timed'}, {mode})"
            if [row["seq"] for row in rows] != list(range(1, filled + 1)):
                problems.append(f"{where}: the ledger holds {len(rows)} of {filled} records")
            if marked - at_town:
                problems.append(f"{where}: {len(marked - at_town)} records marked synced "
                                f"are not at the town")
        mount.start()
        try:
            done = subprocess.run([*GATE, "sync", "--once", "--config", str(config)],
                                  cwd=ROOT, capture_output=True, timeout=300)
        finally:
            mount.stop()
        seqs = town_records(town.url, admin, epoch)
    finally:
        town.stop()
    print(f"\nsync power cuts: {total} cuts, {filled} records, {unmarked_at_town} acked but "
          f"unmarked after a cut, {problems} "
          f"in {time.monotonic() - started:.0f} s")
    assert problems == []
    assert done.returncode == 0, done.stderr
    assert sorted(seqs) == list(range(1, filled + 1))  # every record, exactly once
