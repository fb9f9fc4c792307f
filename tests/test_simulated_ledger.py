"""A simulated ledger can never pass for a real one (issue 15, sync.md "Administration").

`gate-station sync` refuses to push a ledger that `simulate` made (one line, exit 1, not one
request sent) unless `--allow-simulated` is given; then every push says `"simulated": true`.
The town here is a small recording HTTP server on loopback, so the test sees exactly what
the station sent.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "GATE_STATION_DRIVERS": "fake"}


class RecordingTown(BaseHTTPRequestHandler):
    """Answers like a town (acks everything pushed) and keeps every request it got."""

    requests: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.requests.append(("POST", self.path, body))
        if self.path.endswith("/entries"):
            document = json.loads(body)
            answer = {"epoch": document["epoch"], "stored": len(document["entries"]),
                      "duplicates": 0, "quarantined": [],
                      "acked_through": max(e["seq"] for e in document["entries"])}
            self._answer(200, json.dumps(answer).encode())
        else:
            self._answer(204, b"")

    def do_GET(self) -> None:
        self.requests.append(("GET", self.path, b""))
        self._answer(404, b'{"detail": "no bundle"}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def recording_town() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    seen: list[tuple[str, str, bytes]] = []
    handler = type("Handler", (RecordingTown,), {"requests": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def gate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from station.cli import main; main()", *args],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)


def test_sync_refuses_a_simulated_ledger_unless_allowed(
        tmp_path: Path, recording_town: tuple[str, list[tuple[str, str, bytes]]]) -> None:
    url, seen = recording_town
    ledger = tmp_path / "sim.db"
    made = gate("simulate", str(ROOT / "scenarios/faults.yaml"), "--config", "config.yaml",
                "--ledger", str(ledger))
    assert made.returncode == 0, made.stderr
    token = tmp_path / "token"
    token.write_text("secret-token\n")
    token.chmod(0o600)
    config = tmp_path / "config.yaml"
    config.write_text(f"station:\n  id: gate-a\n  locale: en\ndrivers: fake\nledger:\n"
                      f"  path: {ledger}\n"
                      f"bundle:\n  path: {tmp_path / 'bundle.json'}\n"
                      f"town:\n  url: {url}\n  token_file: {token}\n")

    refused = gate("sync", "--once", "--config", str(config))
    assert refused.returncode == 1
    assert refused.stderr.strip().count("\n") == 0, refused.stderr
    assert "made by `gate-station simulate`" in refused.stderr
    assert "nothing was sent" in refused.stderr and "Traceback" not in refused.stderr
    assert seen == []

    allowed = gate("sync", "--once", "--allow-simulated", "--config", str(config))
    assert allowed.returncode == 0, allowed.stderr
    pushes = [json.loads(body) for method, path, body in seen if path.endswith("/entries")]
    assert pushes and all(push["simulated"] is True for push in pushes)
    from station.ledger import Ledger

    with Ledger.open_readonly(ledger) as opened:
        assert sum(len(p["entries"]) for p in pushes) >= opened.count()


def test_a_real_ledger_is_pushed_without_the_simulated_flag(
        tmp_path: Path, recording_town: tuple[str, list[tuple[str, str, bytes]]]) -> None:
    from station.ledger import Ledger, Record

    url, seen = recording_town
    ledger_path = tmp_path / "real.db"
    with Ledger(ledger_path) as ledger:
        ledger.append(Record(kind="exit", time="2021-02-22T07:00:00.000+08:00",
                             day="2021-02-22", clock_synced=True, direction="out"))
    token = tmp_path / "token"
    token.write_text("secret-token\n")
    token.chmod(0o600)
    config = tmp_path / "config.yaml"
    config.write_text(f"station:\n  id: gate-a\ndrivers: fake\nledger:\n  path: {ledger_path}\n"
                      f"bundle:\n  path: {tmp_path / 'bundle.json'}\n"
                      f"town:\n  url: {url}\n  token_file: {token}\n")
    result = gate("sync", "--once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    pushes = [json.loads(body) for _, path, body in seen if path.endswith("/entries")]
    assert pushes and all("simulated" not in push for push in pushes)
