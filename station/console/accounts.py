"""Console accounts, sessions and login rate limiting, in their own SQLite file.

Not in the ledger: the ledger holds what happened at the gate and is synced to the town;
accounts are the console's own business. The file (`console.accounts_path`) is created mode
0600 and holds only password hashes (Argon2id, argon2-cffi), never a password. Sessions are
server-side: the browser holds a random token, the file holds its SHA-256 (a stolen copy of the
file logs nobody in), the user, a CSRF token and the expiry.

Argon2 parameters: t=2, m=19 MiB, p=1 (the OWASP minimum), so that a login costs a Pi tens of
milliseconds and little memory (the console must stay under 120 MB).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from station.errors import StationError

Role = Literal["officer", "guard"]
ROLES: tuple[Role, ...] = ("officer", "guard")
NAME_RULE = "1–32 letters, digits, '.', '_' or '-' (Chinese characters allowed)"
_NAME = re.compile(r"^[\w.-]{1,32}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # Argon2 hashes anything, but a megabyte "password" is a DoS, not a secret

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the user does not exist, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = HASHER.hash("not a real password, only for timing")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('officer', 'guard')),
    hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    last_login REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES users (name),
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    seen REAL NOT NULL
);
"""


class AccountError(StationError, ValueError):
    """A bad account name, role or password, or an unknown user; the message says which."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    disabled: bool = False
    last_login: float | None = None

    @property
    def is_officer(self) -> bool:
        return self.role == "officer"


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    created: float


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise AccountError(key="account.bad_name", name=repr(name), rule=NAME_RULE)
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(key="account.short_password", count=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise AccountError(key="account.long_password", count=MAX_PASSWORD)
    return password


class AccountStore:
    """Users and sessions. Thread-safe (one connection behind a lock; every operation is a
    short transaction). `idle_s` and `max_s` bound a session's life."""

    def __init__(self, path: str | Path, *, idle_s: float = 3600, max_s: float = 12 * 3600,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.idle_s, self.max_s, self.clock = idle_s, max_s, clock
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            self._conn = sqlite3.connect(self.path, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 5000")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as error:
            raise AccountError(key="account.cannot_open", path=self.path,
                               error=error if isinstance(error, OSError) else str(error)
                               ) from None

    def close(self) -> None:
        self._conn.close()

    def _run(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise AccountError(key="account.database", path=self.path,
                                   error=str(error)) from None

    # -- users ------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str) -> User:
        check_name(name)
        if role not in ROLES:
            raise AccountError(key="account.bad_role", role=repr(role))
        check_password(password)
        if self.user(name) is not None:
            raise AccountError(key="account.exists", name=repr(name))
        self._run("INSERT INTO users (name, role, hash, created) VALUES (?, ?, ?, ?)",
                  (name, role, HASHER.hash(password), self.clock()))
        return User(name, role)

    def user(self, name: str) -> User | None:
        rows = self._run("SELECT name, role, disabled, last_login FROM users WHERE name = ?",
                         (name,))
        if not rows:
            return None
        row = rows[0]
        return User(str(row[0]), row[1], bool(row[2]), row[3])  # type: ignore[arg-type]

    def users(self) -> list[User]:
        return [User(str(r[0]), r[1], bool(r[2]), r[3])  # type: ignore[arg-type]
                for r in self._run("SELECT name, role, disabled, last_login FROM users "
                                   "ORDER BY name")]

    def disable(self, name: str) -> None:
        """Disable the account and end its sessions at once."""
        if self.user(name) is None:
            raise AccountError(key="account.unknown", name=repr(name))
        self._run("UPDATE users SET disabled = 1 WHERE name = ?", (name,))
        self._run("DELETE FROM sessions WHERE name = ?", (name,))

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        if self.user(name) is None:
            raise AccountError(key="account.unknown", name=repr(name))
        self._run("UPDATE users SET hash = ? WHERE name = ?", (HASHER.hash(password), name))
        self._run("DELETE FROM sessions WHERE name = ?", (name,))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when `password` is theirs and the account is enabled, else None. Takes
        about as long for an unknown name as for a wrong password."""
        rows = self._run("SELECT hash, disabled FROM users WHERE name = ?", (name,))
        stored = str(rows[0][0]) if rows else _DUMMY_HASH
        try:
            HASHER.verify(stored, password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return None
        if not rows or rows[0][1]:
            return None
        if HASHER.check_needs_rehash(stored):
            self._run("UPDATE users SET hash = ? WHERE name = ?", (HASHER.hash(password), name))
        self._run("UPDATE users SET last_login = ? WHERE name = ?", (self.clock(), name))
        return self.user(name)

    # -- sessions ---------------------------------------------------------------------------

    def start_session(self, user: User) -> tuple[str, Session]:
        """A new session for `user`: (the token for the cookie, the session)."""
        now = self.clock()
        self._run("DELETE FROM sessions WHERE seen < ? OR created < ?",
                  (now - self.idle_s, now - self.max_s))
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._run("INSERT INTO sessions (token_hash, name, csrf, created, seen) "
                  "VALUES (?, ?, ?, ?, ?)", (token_hash(token), user.name, csrf, now, now))
        return token, Session(user, csrf, now)

    def session(self, token: str) -> Session | None:
        """The live session for `token`, extending its idle expiry; None when unknown,
        expired, or its user is disabled."""
        now = self.clock()
        key = token_hash(token)
        rows = self._run("SELECT s.csrf, s.created, s.seen, u.name, u.role, u.disabled, "
                         "u.last_login FROM sessions s JOIN users u ON u.name = s.name "
                         "WHERE s.token_hash = ?", (key,))
        if not rows:
            return None
        csrf, created, seen, name, role, disabled, last_login = rows[0]
        assert isinstance(created, float) and isinstance(seen, float)
        if disabled or now - seen > self.idle_s or now - created > self.max_s:
            self._run("DELETE FROM sessions WHERE token_hash = ?", (key,))
            return None
        if now - seen > 30:  # one write a minute at most, not one per request
            self._run("UPDATE sessions SET seen = ? WHERE token_hash = ?", (now, key))
        user = User(str(name), role, False, last_login)  # type: ignore[arg-type]
        return Session(user, str(csrf), created)

    def end_session(self, token: str) -> None:
        self._run("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))


class LoginLimiter:
    """At most `attempts` failed logins per client address, and per user name, in `window_s`;
    then further attempts are refused (without checking the password) until the window
    moves on. In memory: a restart forgets, which is fine for a LAN appliance."""

    def __init__(self, attempts: int = 5, window_s: float = 300,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts, self.window_s, self.clock = attempts, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def retry_after(self, address: str, name: str) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = self.clock()
        with self._lock:
            waits = [self.window_s - (now - times[0])
                     for key in (f"addr:{address}", f"user:{name}")
                     if len(times := self._recent(key, now)) >= self.attempts]
        return int(max(waits) + 1) if waits else 0

    def failed(self, address: str, name: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (f"addr:{address}", f"user:{name}"):
                self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # bound memory under a spray of names
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def succeeded(self, address: str, name: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{name}", None)
