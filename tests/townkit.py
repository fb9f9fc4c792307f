"""Test kit for sync: a real `town-server` process on loopback, a fault-injecting HTTP proxy,
and station set-up (config, token, a ledger full of records)."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import socketserver
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


TOWN = [sys.executable, "-c", "from sync.town.cli import main; main()"]


def town_cli(*args: str) -> str:
    result = subprocess.run([*TOWN, *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def init_town_db(db: Path) -> Path:
    """A new town database (`town-server db init`), unless one is there already."""
    if not db.exists():
        from sync.town.db import create_database

        create_database(db)
    return db


class TownProcess:
    """`town-server serve` in a subprocess, on a SQLite file (made by `db init` when missing)
    or a PostgreSQL URL (an initialised database); with `bundle_key` (a key file from `keys
    new --purpose bundle`) it signs bundles online; with `workers` > 1 it runs that many
    worker processes. Its output is kept in `log` (beside the SQLite file by default)."""

    def __init__(self, db: Path | str, port: int | None = None, *,
                 bundle_key: Path | None = None, workers: int = 1,
                 log: Path | None = None) -> None:
        self.db: Path | str = init_town_db(db) if isinstance(db, Path) else db
        self.port = port or free_port()
        self.bundle_key = bundle_key
        self.workers = workers
        if log is None:
            assert isinstance(db, Path), "give a log path for a PostgreSQL town"
            log = db.with_suffix(".log")
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def worker_pids(self) -> list[int]:
        """The pids of the worker processes (`workers` > 1): the supervisor's children
        that uvicorn spawned."""
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        found = []
        for child in children:
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
        return found

    def start(self) -> TownProcess:
        extra = ["--bundle-key", str(self.bundle_key)] if self.bundle_key else []
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [*TOWN, "serve", "--db", str(self.db), "--port", str(self.port),
                 "--workers", str(self.workers), "--log-level", "info", *extra], cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Faults:
    """Probabilities of each fault per request (the rest pass through untouched)."""

    drop_after_commit: float = 0.0  # forward, let the server commit, then hang up
    reset: float = 0.0  # reset the connection before forwarding
    error_500: float = 0.0
    busy_503: float = 0.0  # 503 with Retry-After
    busy_503_bare: float = 0.0  # 503 without Retry-After
    stall: float = 0.0  # wait stall_s before forwarding
    stall_s: float = 3.0
    seed: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class ChaosProxy:
    """An HTTP/1.1 proxy on loopback that injects faults into station → town requests."""

    def __init__(self, upstream_port: int, faults: Faults) -> None:
        self.upstream_port = upstream_port
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy.handle(self.request)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ChaosProxy:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _pick(self) -> str:
        f = self.faults
        with self.lock:
            roll = self.rng.random()
        for name, chance in (("drop_after_commit", f.drop_after_commit), ("reset", f.reset),
                             ("error_500", f.error_500), ("busy_503", f.busy_503),
                             ("busy_503_bare", f.busy_503_bare), ("stall", f.stall)):
            if roll < chance:
                with self.lock:
                    f.counts[name] = f.counts.get(name, 0) + 1
                return name
            roll -= chance
        with self.lock:
            f.counts["pass"] = f.counts.get("pass", 0) + 1
        return "pass"

    def handle(self, client: socket.socket) -> None:
        client.settimeout(30)
        try:
            request = _read_message(client)
        except (OSError, ValueError):
            return
        if request is None:
            return
        fault = self._pick()
        if fault == "reset":
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00"
                              b"\x00\x00\x00\x00")
            client.close()
            return
        if fault in ("error_500", "busy_503", "busy_503_bare"):
            status = "500 Internal Server Error" if fault == "error_500" else \
                "503 Service Unavailable"
            extra = "Retry-After: 1\r\n" if fault == "busy_503" else ""
            client.sendall(f"HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\n"
                           "Connection: close\r\n\r\n".encode())
            client.close()
            return
        if fault == "stall":
            time.sleep(self.faults.stall_s)
        try:
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30) as up:
                up.sendall(_close_after(request))
                response = _read_message(up)
        except (OSError, ValueError):
            client.close()
            return
        if fault == "drop_after_commit" or response is None:
            client.close()  # the server has committed; the station never hears so
            return
        with contextlib.suppress(OSError):
            client.sendall(response)
        client.close()


def _close_after(message: bytes) -> bytes:
    head, _, body = message.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


def _read_message(sock: socket.socket) -> bytes | None:
    """One HTTP message (headers + Content-Length body); None if the peer closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data or None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def station_setup(tmp: Path, town_url: str, token: str, station: str = "gate-a",
                  **town: object) -> Path:
    """A station directory with config.yaml (fakes, fast backoff) and its token file."""
    (tmp / "token").write_text(token + "\n")
    os.chmod(tmp / "token", 0o600)
    settings = {"batch": 200, "timeout_s": 2, "heartbeat_s": 1, "bundle_s": 1,
                "backoff_base_s": 0.05, "backoff_cap_s": 0.5, "idle_s": 0.1, **town}
    lines = "\n".join(f"  {key}: {value}" for key, value in settings.items())
    config = tmp / "config.yaml"
    config.write_text(f"station:\n  id: {station}\ndrivers: fake\nledger:\n  path: "
                      f"{tmp / 'ledger.db'}\nbundle:\n  path: {tmp / 'bundle.json'}\n"
                      f"town:\n  url: {town_url}\n  token_file: {tmp / 'token'}\n{lines}\n")
    return config


def fill_ledger(path: Path, count: int, *, alarms_every: int = 0, start: int = 0,
                recent: bool = False) -> None:
    """Append `count` realistic records to the ledger at `path`, 500 per transaction.
    `recent` dates them from yesterday on, so that retention does not purge them."""
    import datetime as dt

    from station.clock import CST
    from station.ledger import Ledger, Record

    base = dt.datetime(2021, 2, 1, 7, 0, tzinfo=CST)
    if recent:
        base = dt.datetime.now(CST).replace(hour=0, minute=0, second=0, microsecond=0) - \
            dt.timedelta(days=1)
    with Ledger(path) as ledger:
        batch: list[Record] = []
        for index in range(start, start + count):
            when = base + dt.timedelta(seconds=index * 3)
            kind = "alarm" if alarms_every and index % alarms_every == alarms_every - 1 \
                else "entry"
            batch.append(Record(
                kind=kind, time=when.isoformat(timespec="milliseconds"),  # type: ignore[arg-type]
                day=when.date().isoformat(), clock_synced=True, boot_id="boot-1",
                boottime_ns=index * 3_000_000_000, direction="in", subject=f"W{index:07d}",
                name="张*", issuer="500118", color="green",
                temperature_c=38.1 if kind == "alarm" else 36.5, readings=(36.5,),
                decision="deny" if kind == "alarm" else "admit",
                reasons=("fever",) if kind == "alarm" else ()))
            if len(batch) == 500:
                ledger.append(*batch)
                batch = []
        if batch:
            ledger.append(*batch)
