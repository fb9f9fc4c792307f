"""A power cut during a bundle update leaves the old bundle or the new one, whole.

A writer process applies bundle after bundle the way the sync client does — a signed envelope
handed to `station.signed_bundle.BundleInbox.receive`, which checks it and writes the payload
with `station.files.atomic_write` (temp file, fsync, rename, directory fsync) — on the power-
cut filesystem, printing each version once saved. Cut at a random instant or at the Nth
write/fsync/rename/fsyncdir/create; after the reboot the file must load and be the last version
printed or the one being written, never empty or torn; at the end the gate daemon (`gate-
station run`) starts on it. The same cuts against weakened writers (no directory fsync, no file
fsync, a plain rewrite in place) must be caught.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from station.bundle import BundleWatcher, load_bundle
from station.config import PolicySettings
from station.errors import StationError
from tests.powerloss.harness import MODES, ROOT, CacheMount, complete_lines

WRITER = """
import os, sys, tempfile
from pathlib import Path
from tests.powerloss.test_bundle_powerloss import bundle_document, save_bundle

def weakened(path, data, *, file_fsync=True, dir_fsync=True):
    fd, temp = tempfile.mkstemp(prefix="." + path.name, dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        if file_fsync:
            os.fsync(handle.fileno())
    os.replace(temp, path)
    if dir_fsync:
        fd = os.open(path.parent, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

def rewrite(path, data):
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())

path, how, number = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
while True:
    document = bundle_document(number)
    if how == "product":
        save_bundle(path, document)
    else:
        import json
        data = json.dumps(document, indent=1).encode()
        if how == "no-dir-fsync":
            weakened(path, data, dir_fsync=False)
        elif how == "no-file-fsync":
            weakened(path, data, file_fsync=False)
        else:
            rewrite(path, data)
    print(number, flush=True)
    number += 1
"""
CUT_KINDS = ("write", "fsync", "rename", "fsyncdir", "create")


BUNDLE_KEY_SEED = bytes([7]) * 32  # the town's bundle key in these tests (pinned below)


def save_bundle(path: Path, document: dict[str, Any]) -> None:
    """Apply `document` as the town's signed bundle number `serial`, through the station's
    own inbox: signature, serial and expiry checked, then the payload written atomically."""
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from station.clock import CST
    from station.signed_bundle import BundleInbox
    from tests import bundlesign

    key = ed25519.Ed25519PrivateKey.from_private_bytes(BUNDLE_KEY_SEED)
    signed = bundlesign.document(document["serial"], trust=document["trust"],
                                 rules=document["rules"], version=document["version"])
    BundleInbox(path, [bundlesign.spki(key)]).receive(bundlesign.signed(key, signed),
                                                      dt.datetime.now(CST))


def bundle_document(number: int) -> dict[str, Any]:
    """A valid bundle of about 14 KB (28 sectors), different in every version."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from station.trust import trust_entry

    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes([number % 256]) * 32)
    return {"serial": number + 1, "version": f"v{number}",
            "trust": {"keys": [trust_entry(key.public_key(), "500118")],
                      "revocations": [{"sub": f"{number:06d}-{i:05d}", "before": 1612000000}
                                      for i in range(300)]},
            "rules": {"fever_threshold_c": 37.3 + (number % 5) / 10}}


def bundle_cuts(tmp: Path, cuts: int, *, how: str, seed: int,
                modes: tuple[str, ...] = MODES) -> tuple[int, int, list[str]]:
    """(cuts, versions saved, problems) of `cuts` power cuts under a bundle writer."""
    mount = CacheMount(tmp / "disk", tmp / "mnt")
    path = mount.path("var/bundle.json")
    rng = random.Random(seed)
    mount.start()
    save_bundle(path, bundle_document(0))
    mount.stop()
    current, problems, made = 0, [], 0
    for number in range(cuts):
        cut_at = None
        if rng.random() < 0.6:
            cut_at = f"{rng.choice(CUT_KINDS)}:{rng.randint(1, 40)}"
        mount.start(cut_at=cut_at)
        output = tmp / "out"
        with open(output, "w") as out:
            writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), how,
                                       str(current + 1)], cwd=ROOT, stdout=out,
                                      stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + (30 if cut_at else rng.uniform(0.4, 1.2))
        while writer.poll() is None and time.monotonic() < deadline \
                and not mount.wait_frozen(0.05 if cut_at else 0):
            time.sleep(0 if cut_at else 0.02)
        mode = rng.choice(modes)
        mount.cut(mode, rng.randrange(2**32), writer)
        made += 1
        saved = [int(line) for line in complete_lines(output.read_text())]
        last = saved[-1] if saved else current
        mount.start()
        try:
            bundle = load_bundle(path)
            watcher = BundleWatcher(path, PolicySettings())
        except StationError as error:
            problems.append(f"cut {number} ({cut_at or 'timed'}, {mode}): {error}")
            break
        finally:
            mount.stop()
        found = int(bundle.version[1:]) if bundle else None
        if found not in (last, last + 1) or watcher.version != (bundle and bundle.version):
            problems.append(f"cut {number} ({cut_at or 'timed'}, {mode}): v{last} saved, "
                            f"found {bundle and bundle.version}")
            break
        current = found
    return made, current, problems


def test_a_power_cut_leaves_the_old_or_the_new_bundle(fuse: None, cuts: Any,
                                                      tmp_path: Path) -> None:
    started = time.monotonic()
    made, versions, problems = bundle_cuts(tmp_path, cuts(16), how="product", seed=21)
    print(f"\nbundle power cuts: {made} cuts, {versions} versions, {problems} "
          f"in {time.monotonic() - started:.0f} s")
    assert problems == []
    assert versions > made  # saves completed between the cuts
    gate_starts_on_the_bundle(tmp_path, f"v{versions}")


def gate_starts_on_the_bundle(tmp: Path, version: str) -> None:
    """`gate-station run` on fakes, with the bundle the cuts left, reports it loaded."""
    with CacheMount(tmp / "disk", tmp / "mnt") as mount:
        mount.start()
        config = tmp / "config.yaml"
        config.write_text(f"station:\n  id: gate-a\ndrivers: fake\nledger:\n  path: "
                          f"{mount.path('var/ledger.db')}\nbundle:\n  path: "
                          f"{mount.path('var/bundle.json')}\n", encoding="utf-8")
        daemon = subprocess.Popen([sys.executable, "-c", "from station.cli import main; main()",
                                   "run", "--config", str(config)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env={**os.environ, "GATE_STATION_DRIVERS": "fake"})
        assert daemon.stdout is not None
        seen = []
        for line in daemon.stdout:
            seen.append(line)
            if "running" in line:
                break
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)
    assert any(f"bundle {version}," in line for line in seen), seen


def test_weakened_bundle_writes_are_caught(fuse: None, tmp_path: Path) -> None:
    """Without the directory fsync the saved version is lost; without the file fsync, or
    rewritten in place, the file is torn or empty: each must be reported."""
    for how, modes in (("no-dir-fsync", ("drop",)), ("no-file-fsync", ("torn",)),
                       ("rewrite", ("torn",))):
        _, _, problems = bundle_cuts(tmp_path / how, 8, how=how, seed=22, modes=modes)
        assert problems, f"{how}: 8 cuts and the harness found nothing"
