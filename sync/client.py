"""The station's sync client (`gate-station sync`): store-and-forward to the town (sync.md v1.1).

Runs as its own process (gate-sync.service) beside the gate daemon, so a stalled network
never slows the gate. It reads and updates the same ledger: WAL lets it read while the daemon
writes, and its own writes (marking records synced, purging old synced ones) are short
transactions under the busy timeout.

- Push unsynced records in seq order in batches (~200), alarms first. Honest acks: only the
  records THIS request sent with seq ≤ `acked_through` are marked synced, only from a 2xx,
  only when the answer names the station's own `epoch` and `acked_through` is an integer no
  higher than the highest seq the ledger ever issued. Any other answer marks nothing: it is a
  protocol fault (`sync` in the heartbeat) and the push is retried with backoff.
- A town whose `acked_through` stays below the oldest unsynced seq while pushes succeed has a
  gap it cannot fill (it lost records the station already purged): a `sync` fault says so;
  the records are kept and retried with backoff until the town writes the gap off.
- A timeout, a connection error or a 5xx means "outcome unknown": the same records are sent
  again (the server de-duplicates). Backoff with full jitter: uniform(0, min(cap,
  base·2^attempt)), reset after a success; `Retry-After` is obeyed on 429/503; 413 halves the
  batch.
- 400/401/403/409 stop pushing (records kept, `sync` fault); every `town.blocked_retry_s`
  the client re-reads its token file and tries again, so a rotated token is picked up.
- Pull the signed bundle with its ETag; station/signed_bundle.py decides whether it is
  applied. A refused bundle keeps the last good one and raises the `bundle` fault, as does
  an applied bundle past its `expires`.
- Heartbeat every minute: backlog, faults (device names), bundle version.
- Retention: synced records older than `ledger.retention_days` are purged; unsynced records
  never are. A ledger over `ledger.max_mb` raises a loud fault; nothing is deleted for it.

Everything the client knows between runs is in the ledger (the synced flags) and the bundle
files, so a kill -9 at any instant loses nothing: at worst a batch is sent twice.
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

from station.bundle import BundleError
from station.clock import CST, Clock, SystemClock, cst_date
from station.config import Config
from station.errors import Localized, StationError
from station.ledger import Ledger, LedgerError, Record
from station.privacy import for_push
from station.signed_bundle import MAX_BUNDLE_BYTES, BundleInbox, BundleRefused, bundle_expires

log = logging.getLogger("gate-station.sync")
GZIP_ABOVE = 8 * 1024
MAX_PUSH_BYTES = 1024 * 1024  # sync.md: a push is at most 1 MiB after decoding
DRAIN_BATCH = 2000  # records per push while a backlog remains (full batches come back)
DEVICES = ("thermometer", "camera", "serial", "ledger", "outputs")
BLOCKING_STATUSES = (400, 401, 403, 409)
PROGRESS_EVERY_S = 5.0  # `sync --once` prints a progress line this often on a long drain


class SyncError(StationError):
    """The sync client cannot run (no town URL, no token, an unsafe token file)."""


@dataclass
class SyncState:
    blocked: str | None = None  # why pushing stopped (400/401/403/409)
    blocked_until: float = 0.0  # time.monotonic() of the next try while blocked
    attempt: int = 0
    batch: int = 200
    too_large: int | None = None  # a batch this size got a 413: stay below it while draining
    fits: int | None = None  # records that fit in MAX_PUSH_BYTES last time it was reached
    etag: str | None = None
    bundle_version: str | None = None
    bundle_outcome: str = "not fetched"  # applied | unchanged | kept (refused) | …
    faults: dict[str, str] = field(default_factory=dict)  # device → why
    pushed: int = 0
    duplicates: int = 0
    quarantined: int = 0


def entry_json(record: Record, *, send_contact_details: bool = False) -> dict[str, Any]:
    """A ledger record as sync.md's entry (the same record always serializes the same):
    names and phone numbers masked unless the station sends contact details
    (registration.md, Privacy); the ledger's own record stays whole."""
    return push_json(record.to_json(), send_contact_details=send_contact_details)


def push_json(data: dict[str, Any], *, send_contact_details: bool = False) -> dict[str, Any]:
    """A record's `to_json()` as sync.md's entry (see `entry_json`)."""
    data = for_push(data, send_contact_details=send_contact_details)
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


def read_token(path: Path, *, insecure: bool = False) -> str:
    """The station's bearer token; SyncError (one line) when the file is missing, empty, or
    readable by group/others (unless `insecure`: `--insecure-token-file`)."""
    try:
        mode = path.stat().st_mode
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SyncError(key="sync.token_unreadable", path=path, error=error) from None
    if mode & 0o044:
        if not insecure:
            raise SyncError(key="sync.token_open", path=path, mode=f"{mode & 0o777:o}")
        log.warning("%s can be read by other users (mode %o): chmod 600 it", path, mode & 0o777)
    if not token:
        raise SyncError(key="sync.token_empty", path=path)
    return token


class SyncClient:
    def __init__(self, config: Config, *, clock: Clock | None = None,
                 transport: httpx.BaseTransport | None = None,
                 rng: random.Random | None = None, insecure_token_file: bool = False,
                 allow_simulated: bool = False) -> None:
        town = config.town
        if not town.url:
            raise SyncError(key="sync.no_url")
        if not town.token_file:
            raise SyncError(key="sync.no_token_file")
        self.token_path = Path(town.token_file)
        self.insecure_token_file = insecure_token_file
        token = read_token(self.token_path, insecure=insecure_token_file)
        self.config = config
        self.station = config.station.id
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.ledger = Ledger(config.ledger.path)
        # a simulation's made-up records never pass for real ones (sync.md, Administration)
        self.simulated = self.ledger.is_simulated
        if self.simulated and not allow_simulated:
            self.ledger.close()
            raise SyncError(key="sync.simulated_ledger", path=self.ledger.path)
        self.bundle_path = Path(config.bundle.path)
        self.inbox = BundleInbox(self.bundle_path, town.bundle_keys)
        self.state = SyncState(batch=town.batch)
        try:
            existing = self.inbox.current()
        except BundleError as error:
            log.error("%s", error)
            existing = None
        self.state.bundle_version = existing.version if existing else None
        if not town.bundle_keys:
            log.warning("no town.bundle_keys configured: bundles received from the town are "
                        "NOT applied; the gate keeps using %s", self.bundle_path)
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
        return self.ledger.backlog()

    def _oldest_unsynced(self) -> int | None:
        return self.ledger.oldest_unsynced_seq()

    def pending(self) -> bool:
        """Whether any record is unsynced (one index lookup, not a batch read)."""
        return self._oldest_unsynced() is not None

    def _next_batch(self) -> list[dict[str, Any]]:
        """The next records to push, each as its `Record.to_json()`."""
        size = self.state.batch
        # alarms go before older ordinary records (index: records_unsynced_alarms)
        alarms = self.ledger.unsynced_json(size, alarms_after=self._alarm_floor)
        if alarms:
            return alarms
        return self.ledger.unsynced_json(size)

    def push_once(self) -> float | None:
        """Send one batch. Returns None when it went through (or there was nothing to send),
        else how long to wait before trying again."""
        if self.state.blocked and not self._unblock():
            return max(0.0, self.state.blocked_until - time.monotonic())
        requested = self.state.batch
        batch = self._next_batch()
        if not batch:
            return None
        full = len(batch) >= requested  # more may be waiting: a long backlog
        batch, body = self._encode(batch)
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
            return self._pushed(batch, response, full=full)
        if status == 413:
            if len(batch) == 1:
                self._set_fault("sync", f"sync: record {batch[0]['seq']} alone is over the "
                                        "town's size limit (413); kept, retried with backoff")
                return self._failed("push: 413 for a single record", None)
            self.state.too_large = len(batch)
            self.state.batch = max(1, len(batch) // 2)
            log.warning("push: 413, batch halved to %d", self.state.batch)
            return 0.0
        if status in (429, 503):
            return self._failed(f"push: {status}", retry_after(response))
        if status in BLOCKING_STATUSES:
            return self._block(status, _detail(response))
        return self._failed(f"push: {status}", None)

    def _encode(self, batch: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bytes]:
        """The push body for `batch`, and the records it holds: the leading records whose
        request stays within MAX_PUSH_BYTES (at least one; a lone record over the limit
        gets its 413). Only the records returned are sent, so only they can be marked."""
        contacts = self.config.town.send_contact_details
        envelope: dict[str, Any] = {"epoch": self.ledger.epoch, "clock": self._clock_block()}
        if self.simulated:
            envelope["simulated"] = True
        # the envelope, then the entries spliced in: the same bytes as one json.dumps of the
        # whole document, but each entry's size is known, so the batch can stop at the limit
        head = _dumps(envelope)[:-1] + b',"entries":['
        size = len(head) + 2  # "]}"
        parts: list[bytes] = []
        for record in batch:
            part = _dumps(push_json(record, send_contact_details=contacts))
            size += len(part) + (1 if parts else 0)
            if parts and size > MAX_PUSH_BYTES:
                self.state.fits = len(parts)  # the next read asks for what fits
                break
            parts.append(part)
        return batch[:len(parts)], head + b",".join(parts) + b"]}"

    def _grow_batch(self, full: bool) -> None:
        """After a success: double the batch, up to DRAIN_BATCH while full batches come back
        (a long backlog), else up to `town.batch`; never back to a size the town refused
        with 413 until the backlog is drained."""
        base = self.config.town.batch
        cap = max(base, DRAIN_BATCH) if full else base
        if not full:
            self.state.too_large = self.state.fits = None
        else:
            if self.state.too_large is not None:
                cap = min(cap, max(1, self.state.too_large // 2))
            if self.state.fits is not None:
                cap = min(cap, self.state.fits)
        self.state.batch = max(1, min(cap, self.state.batch * 2))

    def _block(self, status: int, detail: str) -> float:
        retry = self.config.town.blocked_retry_s
        self.state.blocked = f"sync: {status} {detail}"
        self.state.blocked_until = time.monotonic() + retry
        self._set_fault("sync", f"PUSH STOPPED: the town answered {status} ({detail}); "
                                f"{self.backlog()} records kept; the token file is re-read "
                                f"and the push retried every {retry:.0f} s")
        return retry

    def _unblock(self) -> bool:
        """Blocked, and the retry time has come: re-read the token and let the push go."""
        if time.monotonic() < self.state.blocked_until:
            return False
        try:
            token = read_token(self.token_path, insecure=self.insecure_token_file)
        except SyncError as error:
            log.error("%s", error)
            self.state.blocked_until = time.monotonic() + self.config.town.blocked_retry_s
            return False
        self.http.headers["Authorization"] = f"Bearer {token}"
        log.info("retrying the push after %s", self.state.blocked)
        self.state.blocked = None
        return True

    def _protocol_fault(self, why: str) -> float:
        self._set_fault("sync", f"sync: protocol fault, nothing marked synced: {why}")
        return self._failed("push: protocol fault", None)

    def _pushed(self, batch: list[dict[str, Any]], response: httpx.Response, *,
                full: bool = False) -> float | None:
        """A 2xx: mark what the answer honestly acknowledges, or nothing."""
        try:
            answer = response.json()
        except ValueError:
            return self._protocol_fault("the answer is not JSON")
        if not isinstance(answer, dict):
            return self._protocol_fault("the answer is not a JSON object")
        if answer.get("epoch") != self.ledger.epoch:
            return self._protocol_fault(f"the answer names epoch {str(answer.get('epoch'))[:40]!r}"
                                        f", not this ledger's {self.ledger.epoch}")
        acked = answer.get("acked_through")
        if type(acked) is not int or acked < 0:
            return self._protocol_fault(f"acked_through {str(acked)[:40]!r} is not a "
                                        "non-negative integer")
        try:
            highest = self.ledger.highest_seq()
            if acked > highest:
                return self._protocol_fault(f"acked_through {acked} is above the highest seq "
                                            f"this ledger ever issued ({highest})")
            marked = self.ledger.mark_synced([r["seq"] for r in batch if r["seq"] is not None],
                                             acked)
            oldest = self._oldest_unsynced()
        except LedgerError as error:  # a busy or broken ledger: the town de-duplicates a resend
            log.warning("could not mark records synced (%s); they will be sent again", error)
            return self._failed("ledger busy", None)
        if all(record["kind"] == "alarm" for record in batch):
            self._alarm_floor = max(self._alarm_floor, max(r["seq"] or 0 for r in batch))
        self.state.pushed += marked
        duplicates, quarantined = answer.get("duplicates"), answer.get("quarantined")
        self.state.duplicates += duplicates if type(duplicates) is int else 0
        if isinstance(quarantined, list) and quarantined:
            self.state.quarantined += len(quarantined)
            log.warning("the town quarantined records %s", quarantined[:50])
        log.debug("pushed %d, acked through %d (%d marked synced)", len(batch), acked, marked)
        if oldest is not None and oldest > acked + 1:
            self._set_fault("sync", f"sync: GAP the town cannot fill: it holds this epoch only "
                                    f"through seq {acked}, but seqs {acked + 1}..{oldest - 1} "
                                    f"are no longer on this station (synced and purged); "
                                    f"{self.backlog()} records kept; the town must write the "
                                    f"gap off (town-server stations write-off {self.station} "
                                    f"--epoch {self.ledger.epoch} --through {oldest - 1})")
            return self._failed("push: gap at the town", None)
        self._clear_fault("sync")
        self.state.attempt = 0
        self._grow_batch(full)
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

    # -- bundle ---------------------------------------------------------------------------------

    def check_time(self) -> dt.datetime:
        """The later of the clock and the clock floor: what a bundle's `expires` is checked
        against (sync.md)."""
        now = self.clock.now()
        try:
            floor = self.ledger.clock_floor()
        except LedgerError:
            floor = None
        return now if floor is None else max(now, floor)

    def pull_bundle(self) -> bool:
        """Fetch the bundle; apply it if it is signed, new and valid. True when the town
        answered."""
        headers = {"If-None-Match": self.state.etag} if self.state.etag else {}
        try:
            with self.http.stream("GET", self._urls["bundle"], headers=headers) as response:
                status = response.status_code
                raw = b""
                if status == 200:
                    for chunk in response.iter_bytes():
                        raw += chunk
                        if len(raw) > MAX_BUNDLE_BYTES:
                            break
                etag = response.headers.get("etag")
        except httpx.HTTPError as error:
            log.info("bundle: %s; keeping %s", type(error).__name__, self.state.bundle_version)
            return False
        if status == 304:
            self.state.bundle_outcome = "unchanged"
            self._clear_fault("bundle")
        elif status != 200:
            log.warning("bundle: %d; keeping %s", status, self.state.bundle_version)
            return False
        elif not self.config.town.bundle_keys and not self.inbox.keys_path.exists():
            self.state.bundle_outcome = "not applied (no town.bundle_keys)"
            log.info("bundle: received, not applied: no town.bundle_keys is pinned")
        else:
            self._receive(raw, etag)
        self._check_expiry()
        return True

    def _receive(self, raw: bytes, etag: str | None) -> None:
        try:
            received = self.inbox.receive(raw, self.check_time())
        except (BundleRefused, BundleError) as error:
            self.state.bundle_outcome = "kept"
            self._set_fault("bundle", f"bundle refused, keeping {self.state.bundle_version}: "
                                      f"{error}")
            return
        except OSError as error:
            self.state.bundle_outcome = "kept"
            self._set_fault("bundle", f"bundle: cannot write {self.bundle_path}: {error}")
            return
        bundle = received.bundle
        if received.outcome == "applied":
            log.info("bundle %s (serial %d) applied: %d keys, %d revocations, rules %s",
                     bundle.version, bundle.serial, len(bundle.trust.keys),
                     len(bundle.trust.revocations), bundle.rules or "none")
        self.state.bundle_outcome = received.outcome
        self.state.bundle_version = bundle.version
        self.state.etag = etag
        self._clear_fault("bundle")

    def _check_expiry(self) -> None:
        """An applied bundle past its `expires` keeps working, with the `bundle` fault."""
        if "bundle" in self.state.faults:
            return
        try:
            current = self.inbox.current()
        except BundleError:
            return
        expires = bundle_expires(current) if current else None
        if expires is not None and expires < self.check_time():
            self._set_fault("bundle", f"bundle {current.version if current else ''} expired at "
                                      f"{expires.isoformat()}; still in use, but revocations "
                                      "may be missing")

    # -- heartbeat, housekeeping ----------------------------------------------------------------

    def open_device_faults(self) -> list[str]:
        """Devices whose latest fault record in the ledger is not a recovery."""
        return [device for device in self.ledger.open_faults() if device in DEVICES]

    def faults(self) -> list[str]:
        """Device names for the heartbeat (sync.md): the ledger's open faults and our own."""
        return sorted({*self.open_device_faults(), *self.state.faults})

    def heartbeat(self) -> bool:
        from importlib.metadata import version

        beat = {"time": self.clock.now().astimezone(CST).isoformat(timespec="seconds"),
                "clock_synced": self.clock.synced(), "version": version("gate-station"),
                "backlog": self.backlog(), "faults": self.faults(),
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
            self._set_fault("ledger", f"ledger-size: {size_mb:.0f} MB is over "
                                      f"ledger.max_mb {self.config.ledger.max_mb}; "
                                      "nothing is deleted: sync it or enlarge the card")
        else:
            self._clear_fault("ledger")
        return int(purged)

    def _set_fault(self, device: str, text: str) -> None:
        if self.state.faults.get(device) != text:
            log.error("%s", text)
        self.state.faults[device] = text

    def _clear_fault(self, device: str) -> None:
        if self.state.faults.pop(device, None) is not None:
            log.warning("%s fault cleared", device)

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, *, once: bool = False,
            report: Callable[[str], None] | None = None) -> int:
        """Run until `stop` (or, with `once`, until caught up, blocked, or the town has been
        unreachable for `town.once_give_up_s`). Returns 0 when nothing is left unsynced."""
        stop = stop or threading.Event()
        if once:
            return self._run_once(stop, report or (lambda _line: None))
        town = self.config.town
        next_push = next_beat = next_bundle = next_house = 0.0
        monotonic = time.monotonic
        while not stop.is_set():
            now = monotonic()
            if now >= next_bundle:
                self.pull_bundle()
                next_bundle = now + town.bundle_s
            if now >= next_push:
                wait = self.push_once()
                if wait is None:
                    next_push = now if self.pending() else now + town.idle_s
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

    def _run_once(self, stop: threading.Event, report: Callable[[str], None]) -> int:
        give_up_s = self.config.town.once_give_up_s
        started = time.monotonic()
        last_progress = progress_at = started
        reason: str | None = None
        self.pull_bundle()
        while not stop.is_set():
            pushed_before = self.state.pushed
            wait = self.push_once()
            now = time.monotonic()
            if self.state.pushed > pushed_before or wait is None:
                last_progress = now
            if now - progress_at >= PROGRESS_EVERY_S:
                progress_at = now
                report(Localized("sync.progress", pushed=self.state.pushed,
                                 left=self.backlog()))
            if self.state.blocked:
                reason = Localized("sync.fault",
                                   fault=self.state.faults.get("sync", self.state.blocked))
                break
            if wait is None:
                if not self.pending():
                    break
                continue
            if now + wait - last_progress > give_up_s:
                fault = self.state.faults.get("sync")
                reason = Localized("sync.gave_up", seconds=f"{now - last_progress:.0f}",
                                   fault=Localized("sync.fault", fault=fault) if fault
                                   else Localized("sync.unreachable"))
                break
            stop.wait(wait)
        if stop.is_set():
            reason = Localized("sync.interrupted")
        else:
            self.heartbeat()
        self.housekeeping()
        left = self.backlog()
        outcome = self.state.bundle_outcome
        report(Localized("sync.summary", pushed=self.state.pushed,
                         duplicates=self.state.duplicates, quarantined=self.state.quarantined,
                         left=left, outcome=Localized(OUTCOMES[outcome]) if outcome in OUTCOMES
                         else outcome, version=self.state.bundle_version or "—"))
        if left and reason is None:
            reason = Localized("sync.records_left")
        if reason is not None and left:
            report(Localized("sync.once_kept", reason=reason, left=left))
        return 0 if left == 0 else 1


# the bundle's outcome in the --once summary → its catalogue word
OUTCOMES = {"not fetched": "sync.outcome.not_fetched", "applied": "sync.outcome.applied",
            "unchanged": "sync.outcome.unchanged", "kept": "sync.outcome.kept",
            "not applied (no town.bundle_keys)": "sync.outcome.not_pinned"}


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:200]
    except (ValueError, AttributeError):
        return response.text[:200]


def run_sync(config: Config, *, once: bool = False, insecure_token_file: bool = False,
             allow_simulated: bool = False, report: Callable[[str], None] | None = None) -> int:
    """`gate-station sync`: SIGTERM/SIGINT end every wait at once (a request in flight
    finishes or times out after `town.timeout_s`)."""
    import signal

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        client = SyncClient(config, insecure_token_file=insecure_token_file,
                            allow_simulated=allow_simulated)
    except LedgerError as error:
        raise SyncError(error.message) from None
    try:
        return client.run(stop, once=once, report=report)
    finally:
        client.close()
