"""A hostile or careless town (sync.md v1.1): the station applies only bundles signed by a key
it pins, never marks records synced that the town did not honestly acknowledge, and says so.

Every test talks over real sockets to tests/scripted_town.py on 127.0.0.1.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from station import config as config_module
from station.clock import CST, VirtualClock
from station.codes import Color, HealthClaims, issue
from station.ledger import Record
from station.trust import trust_entry
from sync.client import SyncClient
from tests import bundlesign
from tests.scripted_town import ScriptedTown
from tests.townkit import ROOT, fill_ledger, station_setup

TOWN_KEY = bundlesign.new_key()  # the town's genuine bundle key
ATTACKER = bundlesign.new_key()  # whoever took over the server, its DNS name or the network
GOOD_ISSUER = ed25519.Ed25519PrivateKey.generate()
EVIL_ISSUER = ed25519.Ed25519PrivateKey.generate()


def trust_of(*issuers: ed25519.Ed25519PrivateKey) -> dict[str, Any]:
    return {"keys": [trust_entry(k.public_key(), "500118") for k in issuers],
            "revocations": []}


@pytest.fixture
def town() -> Iterator[ScriptedTown]:
    with ScriptedTown() as server:
        yield server


def make_station(tmp_path: Path, url: str, *, pins: list[str] | None = None,
                 clock: VirtualClock | None = None, **town: Any) -> SyncClient:
    keys = [bundlesign.spki(TOWN_KEY)] if pins is None else pins
    config_path = station_setup(tmp_path, url, "a-token", bundle_keys=json.dumps(keys), **town)
    return SyncClient(config_module.load(config_path), clock=clock, rng=random.Random(0))


def good_bundle(serial: int, **extra: Any) -> dict[str, Any]:
    return bundlesign.document(serial, trust=trust_of(GOOD_ISSUER), **extra)


def evil_document(serial: int) -> dict[str, Any]:
    """What an attacker wants in the bundle: its own issuer key, and red codes admitted."""
    return bundlesign.document(serial, trust=trust_of(GOOD_ISSUER, EVIL_ISSUER),
                               rules={"color": ["green", "yellow", "red"],
                                      "fever_threshold_c": 40.0})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def bad_answers() -> dict[str, Callable[[], bytes]]:
    """Each kind of bundle answer the station must refuse (its current serial is 5)."""
    town_kid = bundlesign.kid(TOWN_KEY)
    evil = bundlesign.payload_bytes(evil_document(9))

    def envelope(**fields: Any) -> bytes:
        return json.dumps({**bundlesign.envelope(TOWN_KEY, evil), **fields}).encode()

    padded = evil + b" " * ((1 - len(evil)) % 3)  # its base64 ends in "=="
    past = dt.datetime.now(CST) - dt.timedelta(days=10)
    return {
        "unsigned": lambda: json.dumps(evil_document(9)).encode(),
        "wrong key": lambda: bundlesign.signed(ATTACKER, evil_document(9)),
        "bad signature": lambda: json.dumps(bundlesign.envelope(
            TOWN_KEY, evil, signature=random.Random(1).randbytes(64))).encode(),
        "kid mismatch": lambda: json.dumps(bundlesign.envelope(
            ATTACKER, evil, kid_bytes=town_kid)).encode(),
        "alg none": lambda: envelope(alg="none"),
        "unpadded base64": lambda: envelope(payload=b64(padded).rstrip("=")),
        "replayed older serial": lambda: bundlesign.signed(TOWN_KEY, evil_document(4)),
        "same serial, other content": lambda: bundlesign.signed(TOWN_KEY, evil_document(5)),
        "expired": lambda: bundlesign.signed(TOWN_KEY, bundlesign.document(
            9, issued_at=past, valid_for=dt.timedelta(days=7),
            trust=trust_of(GOOD_ISSUER, EVIL_ISSUER))),
        "payload not JSON": lambda: json.dumps(bundlesign.envelope(
            TOWN_KEY, b"\xff\xfe not json")).encode(),
        "payload NaN": lambda: json.dumps(bundlesign.envelope(TOWN_KEY, evil.replace(
            b'"fever_threshold_c":40.0', b'"fever_threshold_c":NaN'))).encode(),
        "serial as text": lambda: bundlesign.signed(TOWN_KEY, {**evil_document(9),
                                                               "serial": "9"}),
        "serial 2^53": lambda: bundlesign.signed(TOWN_KEY, evil_document(2**53)),
        "serial true": lambda: bundlesign.signed(TOWN_KEY, {**evil_document(9),
                                                            "serial": True}),
        "no expires": lambda: bundlesign.signed(TOWN_KEY, {
            k: v for k, v in evil_document(9).items() if k != "expires"}),
        "bad rule value": lambda: bundlesign.signed(TOWN_KEY, bundlesign.document(
            9, trust=trust_of(GOOD_ISSUER), rules={"fever_threshold_c": "very hot"})),
        "not JSON": lambda: b"<html>502 Bad Gateway</html>",
        "deep JSON": lambda: b"[" * 100_000 + b"]" * 100_000,
        "huge": lambda: b'{"payload": "' + b"A" * (3 * 1024 * 1024) + b'"}',
    }


WHY = {"unsigned": "not signed", "wrong key": "not an accepted bundle key",
       "bad signature": "does not verify", "kid mismatch": "does not verify",
       "alg none": "not EdDSA", "unpadded base64": "not base64",
       "replayed older serial": "not above", "same serial, other content": "not above",
       "expired": "expired", "payload not JSON": "payload is not JSON",
       "payload NaN": "NaN is not JSON", "serial as text": "serial must be",
       "serial 2^53": "serial must be", "serial true": "serial must be",
       "no expires": "lacks expires", "bad rule value": "rules.fever_threshold_c",
       "not JSON": "not JSON", "deep JSON": "not JSON", "huge": "over"}


def attacker_code() -> str:
    now = int(dt.datetime.now(CST).timestamp())
    return issue(EVIL_ISSUER, HealthClaims(iss="500118", iat=now - 60, exp=now + 3600,
                                           sub="W6666666", color=Color.RED))


def verify_code(config: Path, text: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATE_STATION_DRIVERS": "fake"}
    return subprocess.run([sys.executable, "-c", "from station.cli import main; main()",
                           "verify-code", text, "--config", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env=env)


def test_every_bad_bundle_is_refused_the_last_good_one_kept_and_the_fault_reported(
        tmp_path: Path, town: ScriptedTown) -> None:
    client = make_station(tmp_path, town.url)
    applied = good_bundle(5)  # once: its version holds the time it was made
    town.bundle = bundlesign.signed(TOWN_KEY, applied)
    assert client.pull_bundle() and client.state.bundle_outcome == "applied"
    good = client.bundle_path.read_bytes()
    for kind, answer in bad_answers().items():
        town.bundle = answer()
        assert client.pull_bundle(), kind
        assert client.state.bundle_outcome == "kept", kind
        assert client.bundle_path.read_bytes() == good, kind
        assert "bundle" in client.faults(), kind
        assert WHY[kind] in client.state.faults["bundle"], (kind, client.state.faults)
        assert client.heartbeat()
        assert "bundle" in town.heartbeats[-1]["faults"], kind
        assert town.heartbeats[-1]["bundle_version"] == applied["version"]
    assert not (tmp_path / "bundle.json.keys").exists()
    # the attacker's red code, signed by the key its bundles tried to add: refused
    result = verify_code(tmp_path / "config.yaml", attacker_code())
    assert result.returncode == 1 and "unknown-key" in result.stdout, result.stdout
    # a good bundle clears the fault
    town.bundle = bundlesign.signed(TOWN_KEY, good_bundle(6))
    assert client.pull_bundle() and client.state.bundle_outcome == "applied"
    assert "bundle" not in client.faults()
    client.close()


def test_the_same_bundle_again_is_unchanged_not_a_fault(tmp_path: Path,
                                                        town: ScriptedTown) -> None:
    client = make_station(tmp_path, town.url)
    town.bundle = bundlesign.signed(TOWN_KEY, good_bundle(5))
    assert client.pull_bundle() and client.state.bundle_outcome == "applied"
    assert client.pull_bundle() and client.state.bundle_outcome == "unchanged"
    assert "bundle" not in client.faults()
    assert client.bundle_path.stat().st_mode & 0o777 == 0o600
    client.close()


def test_without_pinned_keys_no_received_bundle_is_applied(tmp_path: Path,
                                                           town: ScriptedTown) -> None:
    client = make_station(tmp_path, town.url, pins=[])
    town.bundle = bundlesign.signed(TOWN_KEY, good_bundle(5))
    assert client.pull_bundle()
    assert not client.bundle_path.exists()
    assert client.state.bundle_outcome.startswith("not applied")
    client.close()


def test_bundle_keys_rotate_and_a_withdrawn_key_is_refused(tmp_path: Path,
                                                           town: ScriptedTown) -> None:
    new_key = bundlesign.new_key()
    client = make_station(tmp_path, town.url)
    town.bundle = bundlesign.signed(TOWN_KEY, good_bundle(
        5, bundle_keys=[bundlesign.spki(new_key)]))
    assert client.pull_bundle() and client.state.bundle_outcome == "applied"
    keys_file = tmp_path / "bundle.json.keys"
    assert json.loads(keys_file.read_text())["bundle_keys"] == [bundlesign.spki(new_key)]
    assert keys_file.stat().st_mode & 0o777 == 0o600
    town.bundle = bundlesign.signed(TOWN_KEY, good_bundle(6))  # the old key: withdrawn
    assert client.pull_bundle() and client.state.bundle_outcome == "kept"
    assert "not an accepted bundle key" in client.state.faults["bundle"]
    town.bundle = bundlesign.signed(new_key, good_bundle(6))
    assert client.pull_bundle() and client.state.bundle_outcome == "applied"
    # a bundle without bundle_keys keeps the rotated list; a restart keeps it too
    client.close()
    client = make_station(tmp_path, town.url)
    town.bundle = bundlesign.signed(TOWN_KEY, good_bundle(7))
    assert client.pull_bundle() and client.state.bundle_outcome == "kept"
    client.close()


def test_a_crash_between_the_bundle_and_its_keys_file_is_repaired(tmp_path: Path,
                                                                  town: ScriptedTown) -> None:
    new_key = bundlesign.new_key()
    client = make_station(tmp_path, town.url)
    town.bundle = bundlesign.signed(TOWN_KEY, good_bundle(
        5, bundle_keys=[bundlesign.spki(new_key)]))
    assert client.pull_bundle()
    (tmp_path / "bundle.json.keys").unlink()  # as if power failed before it was written
    town.bundle = bundlesign.signed(TOWN_KEY, good_bundle(6))
    assert client.pull_bundle() and client.state.bundle_outcome == "kept"
    assert (tmp_path / "bundle.json.keys").exists()
    client.close()


def test_unknown_fields_and_rule_keys_are_ignored_with_a_warning(
        tmp_path: Path, town: ScriptedTown, caplog: pytest.LogCaptureFixture) -> None:
    from station.bundle import BundleWatcher

    client = make_station(tmp_path, town.url)
    town.bundle = bundlesign.signed(TOWN_KEY, good_bundle(
        5, rules={"fever_threshold_c": 37.5, "mask_required": True,
                  "returning": {"quarantine_days": 3}}, stations=["gate-a"]))
    assert client.pull_bundle() and client.state.bundle_outcome == "applied"
    assert "mask_required" in caplog.text and "returning.quarantine_days" in caplog.text
    assert "'stations'" in caplog.text
    watcher = BundleWatcher(client.bundle_path, client.config.policy)
    assert watcher.policy.fever_threshold_c == 37.5 and len(watcher.trust.keys) == 1
    client.close()


def test_an_applied_bundle_past_expires_keeps_working_with_the_fault(
        tmp_path: Path, town: ScriptedTown) -> None:
    clock = VirtualClock(dt.datetime(2021, 2, 1, 7, 0, tzinfo=CST))
    client = make_station(tmp_path, town.url, clock=clock)
    town.bundle = bundlesign.signed(TOWN_KEY, good_bundle(
        5, issued_at=dt.datetime(2021, 2, 1, 6, 0, tzinfo=CST)))
    assert client.pull_bundle() and "bundle" not in client.faults()
    clock.sleep(8 * 86400)
    assert client.pull_bundle() and client.state.bundle_outcome == "unchanged"
    assert "expired" in client.state.faults["bundle"]
    assert json.loads(client.bundle_path.read_text())["serial"] == 5  # still in use
    client.close()


def test_bundle_expiry_is_checked_at_the_clock_floor(tmp_path: Path,
                                                     town: ScriptedTown) -> None:
    clock = VirtualClock(dt.datetime(2021, 2, 1, 7, 0, tzinfo=CST), synced=False)
    client = make_station(tmp_path, town.url, clock=clock)
    client.ledger.append(Record(kind="fault", time="2021-02-10T07:00:00.000+08:00",
                                day="2021-02-10", clock_synced=True, detail="camera: x"))
    # valid by the fallen-back clock, expired by the floor (the newest synced record)
    town.bundle = bundlesign.signed(TOWN_KEY, good_bundle(
        5, issued_at=dt.datetime(2021, 2, 1, 6, 0, tzinfo=CST)))
    assert client.pull_bundle() and client.state.bundle_outcome == "kept"
    assert "expired" in client.state.faults["bundle"]
    client.close()


# -- honest acks -------------------------------------------------------------------------------


def test_an_ack_beyond_what_was_sent_marks_nothing_and_nothing_vanishes(
        tmp_path: Path, town: ScriptedTown) -> None:
    """The review's finding: `acked_through: 1000000000` to a batch of 4 made 10 records
    vanish after housekeeping."""
    client = make_station(tmp_path, town.url, batch=4)
    fill_ledger(client.ledger.path, 14)  # dated 2021: old enough for retention to purge
    town.push_answer = lambda request: (200, {"epoch": request["epoch"],
                                              "acked_through": 1_000_000_000,
                                              "accepted": 4, "duplicates": 0,
                                              "quarantined": []})
    wait = client.push_once()
    assert wait is not None and wait >= 0  # a protocol fault: retried with backoff
    assert len(town.pushes[-1]["entries"]) == 4
    client.housekeeping()
    assert client.ledger.count() == 14 and client.backlog() == 14
    assert "sync" in client.faults() and "ever issued" in client.state.faults["sync"]
    client.close()


def test_an_ack_ahead_of_the_request_marks_only_what_this_request_sent(
        tmp_path: Path, town: ScriptedTown) -> None:
    client = make_station(tmp_path, town.url, batch=4)
    fill_ledger(client.ledger.path, 14)
    town.push_answer = lambda request: (200, {"epoch": request["epoch"], "acked_through": 14,
                                              "accepted": 4, "duplicates": 0,
                                              "quarantined": []})
    assert client.push_once() is None  # allowed (the town may hold later seqs)
    client.housekeeping()
    assert client.ledger.count() == 10 and client.backlog() == 10
    assert next(r.seq for r in client.ledger.all_records()) == 5
    client.close()


@pytest.mark.parametrize(("why", "answer"), [
    ("another epoch", lambda r: {"epoch": "0f0f0f0f-0000-4000-8000-000000000000",
                                 "acked_through": 4}),
    ("no epoch", lambda r: {"acked_through": 4}),
    ("text", lambda r: {"epoch": r["epoch"], "acked_through": "4"}),
    ("float", lambda r: {"epoch": r["epoch"], "acked_through": 3.9}),
    ("bool", lambda r: {"epoch": r["epoch"], "acked_through": True}),
    ("negative", lambda r: {"epoch": r["epoch"], "acked_through": -1}),
    ("null", lambda r: {"epoch": r["epoch"], "acked_through": None}),
    ("a list", lambda r: [r["epoch"], 4]),
])
def test_a_dishonest_or_malformed_ack_marks_nothing(
        tmp_path: Path, town: ScriptedTown, why: str,
        answer: Callable[[dict[str, Any]], Any]) -> None:
    client = make_station(tmp_path, town.url, batch=4)
    fill_ledger(client.ledger.path, 6)
    town.push_answer = lambda request: (200, answer(request))
    assert client.push_once() is not None, why
    assert client.backlog() == 6, why
    assert "sync" in client.faults(), why
    assert client.heartbeat() and "sync" in town.heartbeats[-1]["faults"], why
    town.push_answer = None  # an honest answer clears the fault
    for _ in range(3):
        client.push_once()
    assert client.backlog() == 0 and "sync" not in client.faults()
    client.close()


def test_a_gap_the_town_cannot_fill_is_a_sync_fault_and_the_records_are_kept(
        tmp_path: Path, town: ScriptedTown, caplog: pytest.LogCaptureFixture) -> None:
    client = make_station(tmp_path, town.url, batch=10)
    fill_ledger(client.ledger.path, 30)
    client.push_once()  # 1..10 synced ...
    client.housekeeping()  # ... and purged (old records)
    assert client.ledger.count() == 20
    town.stored.clear()  # the town is restored from a backup that predates them
    wait = client.push_once()
    assert wait is not None and client.backlog() == 20
    assert "GAP" in client.state.faults["sync"] and "write-off" in caplog.text
    assert "seqs 1..10" in client.state.faults["sync"]
    client.close()


def test_413_halves_the_batch_down_to_a_single_record_then_backs_off(
        tmp_path: Path, town: ScriptedTown) -> None:
    client = make_station(tmp_path, town.url, batch=8)
    fill_ledger(client.ledger.path, 8)
    town.push_answer = lambda request: (413, {"detail": "body too large"})
    assert [client.push_once() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert client.state.batch == 1
    wait = client.push_once()
    assert wait is not None and "sync" in client.faults() and client.backlog() == 8
    client.close()
