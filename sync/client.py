"""The station's sync client (`gate-station sync`): store-and-forward to the town (sync.md).

Runs as its own process (gate-sync.service) beside the gate daemon, so a stalled network
never slows the gate. It reads and updates the same ledger: WAL lets it read while the daemon
writes, and its own writes (marking records synced, purging old synced ones) are short
transactions under the busy timeout.

- Push unsynced records in seq order in batches (~200), alarms first; mark synced only up to
  `acked_through` from a 2xx answer. A timeout, a connection error or a 5xx means "outcome
  unknown": the same records are sent again (the server de-duplicates).
- Backoff with full jitter: sleep uniform(0, min(cap, base·2^attempt)), base 2 s, cap 300 s,
  reset after a success; `Retry-After` is obeyed on 429/503; 413 halves the batch.
- 400/401/403/409 stop pushing (the records are kept) and raise a fault, reported in the log
  and in every heartbeat, until the client is restarted.
- Pull the bundle with its ETag and apply it atomically; the last good one stays on disk.
- Heartbeat every minute: backlog, open device faults (from the ledger), bundle version.
- Retention: synced records older than `ledger.retention_days` are purged; unsynced records
  never are. A ledger over `ledger.max_mb` raises a loud fault; nothing is deleted for it.

Everything the client knows between runs is in the ledger (the synced flags) and the bundle
file, so a kill -9 at any instant loses nothing: at worst a batch is sent twice.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from station.bundle import BundleError, load_bundle, save_bundle
from station.clock import CST, Clock, SystemClock, cst_date
from station.config import Config
from station.errors import StationError
from station.ledger import Ledger, LedgerError, Record

log = logging.getLogger("gate-station.sync")
GZIP_ABOVE = 8 * 1024
DEVICES = ("thermometer", "camera", "ledger")


class SyncError(StationError):
    """The sync client cannot run (no town URL, no token)."""


@dataclass
class SyncState:
    blocked: str | None = None  # why pushing stopped (400/401/403/409)
    attempt: int = 0
    batch: int = 200
    etag: str | None = None
    bundle_version: str | None = None
    faults: list[str] = field(default_factory=list)
    pushed: int = 0


def entry_json(record: Record) -> dict[str, Any]:
    """A ledger record as sync.md's entry (the same record always serializes the same)."""
    data = record.to_json()
    data.pop("day", None)
    return data


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform(0, min(cap, base · 2^attempt))."""
    return rng.uniform(0, min(cap, base * 2 ** min(attempt, 30)))


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


class SyncClient:
    def __init__(self, config: Config, *, clock: Clock | None = None,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, allow_simulated: bool = False) -> None:
        town = config.town
        if not town.url:
            raise SyncError("config: town.url is not set: there is no town to sync to")
        if not town.token_file:
            raise SyncError("config: town.token_file is not set")
        token_path = Path(town.token_file)
        try:
            if token_path.stat().st_mode & 0o077:
                log.warning("%s can be read by other users: chmod 600 it", token_path)
            token = token_path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SyncError(f"{town.token_file}: cannot read the station token: "
                            f"{error.strerror or error}") from None
        if not token:
            raise SyncError(f"{town.token_file}: the station token file is empty")
        self.config = config
        self.station = config.station.id
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.ledger = Ledger(config.ledger.path)
        # a simulation's made-up records never pass for real ones (sync.md, Administration)
        self.simulated = self.ledger.is_simulated
        if self.simulated and not allow_simulated:
            self.ledger.close()
            raise SyncError(f"{self.ledger.path}: this ledger was made by `gate-station "
                            "simulate`; its records are not real people and nothing was sent "
                            "(--allow-simulated pushes them marked as simulated)")
        self.bundle_path = Path(config.bundle.path)
        self.state = SyncState(batch=town.batch)
        existing = load_bundle(self.bundle_path) if self.bundle_path.exists() else None
        self.state.bundle_version = existing.version if existing else None
        base = town.url.rstrip("/") + f"/api/v1/stations/{self.station}"
        self._urls = {"entries": base + "/entries", "bundle": base + "/bundle",
                      "heartbeat": base + "/heartbeat"}
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}",
                                          "User-Agent": "gate-station-sync/1"},
                                 timeout=town.timeout_s, transport=transport)
        self._alarm_floor = 0  # alarms up to here were sent ahead of their turn

    def close(self) -> None:
        self.http.close()
        self.ledger.close()

    # -- push ---------------------------------------------------------------------------------

    def backlog(self) -> int:
        return int(self.ledger.query(
            "SELECT count(*) AS n FROM records WHERE synced = 0")[0]["n"])

    def _next_batch(self) -> list[Record]:
        size = self.state.batch
        # alarms go before older ordinary records (index: records_unsynced_alarms)
        alarms = list(self.ledger.records("synced = 0 AND kind = 'alarm' AND seq > ?",
                                          [self._alarm_floor], limit=size))
        if alarms:
            return alarms
        return list(self.ledger.records("synced = 0", limit=size))

    def push_once(self) -> float | None:
        """Send one batch. Returns None when it went through (or there was nothing to send),
        else how long to wait before trying again."""
        if self.state.blocked:
            return None
        batch = self._next_batch()
        if not batch:
            return None
        document: dict[str, Any] = {"epoch": self.ledger.epoch, "clock": self._clock_block(),
                                    "entries": [entry_json(r) for r in batch]}
        if self.simulated:
            document["simulated"] = True
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if len(body) > GZIP_ABOVE:
            body = gzip.compress(body, 6)
            headers["Content-Encoding"] = "gzip"
        try:
            response = self.http.post(self._urls["entries"], content=body, headers=headers)
        except httpx.HTTPError as error:  # timeouts, resets, refused: outcome unknown
            return self._failed(f"push: {type(error).__name__}", None)
        status = response.status_code
        if 200 <= status < 300:
            return self._pushed(batch, response)
        if status == 413:
            self.state.batch = max(1, len(batch) // 2)
            log.warning("push: 413, batch halved to %d", self.state.batch)
            return 0.0
        if status in (429, 503):
            return self._failed(f"push: {status}", retry_after(response))
        if status in (400, 401, 403, 409):
            detail = _detail(response)
            self.state.blocked = f"sync: {status} {detail}"
            log.error("PUSH STOPPED: the town answered %d (%s); %d records kept, not retried "
                      "until this client is restarted", status, detail, self.backlog())
            return None
        return self._failed(f"push: {status}", None)

    def _pushed(self, batch: list[Record], response: httpx.Response) -> float | None:
        try:
            answer = response.json()
            acked = int(answer["acked_through"])
        except (ValueError, KeyError, TypeError):
            return self._failed("push: the town's answer is not sync.md's shape", None)
        if all(record.kind == "alarm" for record in batch):
            self._alarm_floor = max(self._alarm_floor, max(r.seq or 0 for r in batch))
        try:
            marked = self.ledger.mark_synced(acked)
        except LedgerError as error:  # a busy or broken ledger: the town de-duplicates a resend
            log.warning("could not mark records synced (%s); they will be sent again", error)
            return self._failed("ledger busy", None)
        self.state.pushed += marked
        self.state.attempt = 0
        self.state.batch = min(self.config.town.batch, self.state.batch * 2)
        if answer.get("quarantined"):
            log.warning("the town quarantined records %s", answer["quarantined"])
        log.debug("pushed %d, acked through %d (%d marked synced)", len(batch), acked, marked)
        return None

    def _failed(self, what: str, wait: float | None) -> float:
        town = self.config.town
        delay = wait if wait is not None else backoff_delay(
            self.state.attempt, town.backoff_base_s, town.backoff_cap_s, self.rng)
        self.state.attempt += 1
        log.info("%s; retrying in %.1f s", what, delay)
        return delay

    def _clock_block(self) -> dict[str, Any]:
        return {"wall": self.clock.now().astimezone(CST).isoformat(timespec="milliseconds"),
                "synced": self.clock.synced(), "boot_id": self.clock.boot_id,
                "boottime_ns": self.clock.boottime_ns()}

    # -- bundle, heartbeat, housekeeping -------------------------------------------------------

    def pull_bundle(self) -> bool:
        """Fetch the bundle; apply it if new. True when the town answered."""
        headers = {"If-None-Match": self.state.etag} if self.state.etag else {}
        try:
            response = self.http.get(self._urls["bundle"], headers=headers)
        except httpx.HTTPError as error:
            log.info("bundle: %s; keeping %s", type(error).__name__, self.state.bundle_version)
            return False
        if response.status_code == 304:
            return True
        if response.status_code != 200:
            log.warning("bundle: %d %s", response.status_code, _detail(response))
            return False
        try:
            document = response.json()
            if document.get("version") != self.state.bundle_version:
                bundle = save_bundle(self.bundle_path, document)
                log.info("bundle %s applied: %d keys, %d revocations, rules %s",
                         bundle.version, len(bundle.trust.keys),
                         len(bundle.trust.revocations), bundle.rules or "none")
                self.state.bundle_version = bundle.version
            self.state.etag = response.headers.get("etag")
            self._clear_fault("bundle")
        except (ValueError, BundleError) as error:
            self._set_fault("bundle", f"bundle: rejected, keeping {self.state.bundle_version}: "
                                      f"{error}")
        return True

    def open_device_faults(self) -> list[str]:
        """Devices whose latest fault record in the ledger is not a recovery."""
        latest: dict[str, str] = {}
        for row in self.ledger.query("SELECT detail FROM records WHERE kind = 'fault' "
                                     "ORDER BY seq DESC LIMIT 500"):
            device, _, rest = (row["detail"] or "").partition(":")
            if device in DEVICES and device not in latest:
                latest[device] = rest.strip()
        return sorted(d for d, rest in latest.items() if not rest.startswith("recovered"))

    def heartbeat(self) -> bool:
        from importlib.metadata import version

        faults = self.open_device_faults() + self.state.faults
        if self.state.blocked:
            faults.append(self.state.blocked)
        beat = {"time": self.clock.now().astimezone(CST).isoformat(timespec="seconds"),
                "clock_synced": self.clock.synced(), "version": version("gate-station"),
                "backlog": self.backlog(), "faults": faults,
                "bundle_version": self.state.bundle_version}
        try:
            response = self.http.post(self._urls["heartbeat"], json=beat)
        except httpx.HTTPError as error:
            log.info("heartbeat: %s", type(error).__name__)
            return False
        return response.status_code == 204

    def housekeeping(self, today: dt.date | None = None) -> int:
        """Purge old synced records; check the size cap. Returns the number purged."""
        today = today or cst_date(self.clock.now())
        cutoff = today - dt.timedelta(days=self.config.ledger.retention_days)
        try:
            purged = self.ledger.purge_synced(cutoff)
        except LedgerError as error:
            log.warning("retention purge skipped: %s", error)
            purged = 0
        size_mb = sum(p.stat().st_size for p in self.ledger.path.parent.glob(
            self.ledger.path.name + "*")) / 1e6
        if size_mb > self.config.ledger.max_mb:
            self._set_fault("ledger-size", f"ledger-size: {size_mb:.0f} MB is over "
                                           f"ledger.max_mb {self.config.ledger.max_mb}; "
                                           "nothing is deleted: sync it or enlarge the card")
        else:
            self._clear_fault("ledger-size")
        return int(purged)

    def _set_fault(self, key: str, text: str) -> None:
        self._clear_fault(key)
        self.state.faults.append(text)
        log.error("%s", text)

    def _clear_fault(self, key: str) -> None:
        self.state.faults = [f for f in self.state.faults if not f.startswith(key + ":")]

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, *, once: bool = False) -> int:
        """Run until `stop` (or, with `once`, until caught up or blocked). 0 when nothing
        is left unsynced."""
        stop = stop or threading.Event()
        town = self.config.town
        next_push = next_beat = next_bundle = next_house = 0.0
        monotonic = time.monotonic
        if once:
            self.pull_bundle()
            while not stop.is_set():
                wait = self.push_once()
                if wait is None:
                    if self.state.blocked or not self._next_batch():
                        break
                    continue
                self.sleep(wait)
            self.heartbeat()
            self.housekeeping()
            return 0 if self.backlog() == 0 else 1
        while not stop.is_set():
            now = monotonic()
            if now >= next_bundle:
                self.pull_bundle()
                next_bundle = now + town.bundle_s
            if now >= next_push:
                wait = self.push_once()
                if wait is None:
                    more = not self.state.blocked and bool(self._next_batch())
                    next_push = now if more else now + town.idle_s
                else:
                    next_push = now + wait
            if now >= next_beat:
                self.heartbeat()
                next_beat = now + town.heartbeat_s
            if now >= next_house:
                self.housekeeping()
                next_house = now + 3600
            pause = min(next_push, next_beat, next_bundle) - monotonic()
            if pause > 0:
                stop.wait(pause)
        return 0


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:200]
    except (ValueError, AttributeError):
        return response.text[:200]


def run_sync(config: Config, *, once: bool = False, allow_simulated: bool = False) -> int:
    """`gate-station sync`: SIGTERM/SIGINT stop the loop between requests."""
    import signal

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        client = SyncClient(config, allow_simulated=allow_simulated)
    except LedgerError as error:
        raise SyncError(str(error)) from None
    try:
        return client.run(stop, once=once)
    finally:
        client.close()
