"""The console's long-lived state: config, accounts, the login limiter, the templates, and
how to open the ledger and find the policy in force. One instance per app (app.state)."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from jinja2 import Environment

from station.clock import Clock
from station.config import Config, PolicySettings
from station.console.accounts import AccountStore, LoginLimiter
from station.console.web import make_environment
from station.ledger import Ledger, LedgerError
from station.trust import TrustList

if TYPE_CHECKING:  # the bundle code (cryptography) loads on first use: the idle console stays light
    from station.bundle import BundleWatcher


class TownProbe:
    """Whether the town's host accepts a TCP connection, checked at most once a minute in
    the background (a page never waits for the network). None: not known yet / no town."""

    def __init__(self, url: str | None, every_s: float = 60.0, timeout_s: float = 3.0) -> None:
        self.url, self.every_s, self.timeout_s = url, every_s, timeout_s
        self.reachable: bool | None = None
        self.checked_at: float | None = None
        self._running = False
        self._lock = threading.Lock()

    def state(self) -> bool | None:
        if self.url is None:
            return None
        with self._lock:
            due = self.checked_at is None or time.time() - self.checked_at > self.every_s
            if due and not self._running:
                self._running = True
                threading.Thread(target=self._check, daemon=True).start()
        return self.reachable

    def _check(self) -> None:
        parts = urlsplit(self.url or "")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname or "", port), self.timeout_s):
                self.reachable = True
        except OSError:
            self.reachable = False
        finally:
            self.checked_at = time.time()
            self._running = False


@dataclass(frozen=True)
class BundleInfo:
    version: str | None
    saved_at: float | None  # the file's mtime (Unix seconds): when the sync client wrote it
    policy: PolicySettings
    error: str | None


@dataclass
class Console:
    config: Config
    accounts: AccountStore
    ledger_path: Path
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    templates: Environment = field(default_factory=make_environment)
    stream_seconds: float = 300.0  # an event stream ends after this; the browser reconnects
    poll_s: float = 0.25  # how often the live feed looks for new records
    clock: Clock | None = None  # the registrations' clock; None: the machine's (SystemClock)
    town: TownProbe = field(init=False)
    _watcher: BundleWatcher | None = field(init=False, default=None)
    _bundle: tuple[int, BundleInfo] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.town = TownProbe(self.config.town.url)

    @property
    def bundle_path(self) -> Path:
        return Path(self.config.bundle.path)

    def open_ledger(self) -> Ledger:
        """A read-only connection to the ledger (LedgerError when there is none)."""
        return Ledger.open_readonly(self.ledger_path)

    def open_writer(self) -> Ledger:
        """A writing connection for the guard's registrations (LedgerError when there is no
        ledger yet: the console never creates one, `db init` does)."""
        if not self.ledger_path.exists():
            raise LedgerError(f"{self.ledger_path}: no ledger here")
        return Ledger(self.ledger_path)

    def registration_clock(self) -> Clock:
        if self.clock is None:
            from station.clock import SystemClock

            self.clock = SystemClock()
        return self.clock

    def trust(self) -> TrustList:
        """The issuers the gate trusts (the bundle's), to verify a code taken by hand-over."""
        if self._watcher is None:
            from station.bundle import BundleWatcher

            self._watcher = BundleWatcher(self.bundle_path, self.config.policy)
        return self._watcher.current_trust()

    def bundle(self) -> BundleInfo:
        """The station's bundle as the gate sees it, re-read only when the file changes."""
        try:
            mtime_ns = os.stat(self.bundle_path).st_mtime_ns
        except OSError:
            return BundleInfo(None, None, self.config.policy, None)
        cached = self._bundle
        if cached is not None and cached[0] == mtime_ns:
            return cached[1]
        # imported here: the bundle code pulls in cryptography (~12 MB), which a console
        # without a bundle file never needs
        from station.bundle import BundleError, apply_rules, load_bundle

        try:
            bundle = load_bundle(self.bundle_path)
            policy = apply_rules(self.config.policy, bundle.rules) if bundle else \
                self.config.policy
            info = BundleInfo(bundle.version if bundle else None, mtime_ns / 1e9, policy, None)
        except BundleError as error:
            # the gate keeps its last good bundle; we only know config.yaml's policy
            info = BundleInfo(None, mtime_ns / 1e9, self.config.policy, str(error))
        self._bundle = (mtime_ns, info)
        return info

    def policy(self) -> PolicySettings:
        """The policy the gate applies: config.yaml's, with the town bundle's rules over it."""
        return self.bundle().policy
