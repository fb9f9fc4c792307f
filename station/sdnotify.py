"""systemd's notify protocol (sd_notify(3)): READY=1, WATCHDOG=1, STOPPING=1, STATUS=….

A datagram to the socket named in $NOTIFY_SOCKET ('@' = abstract namespace). Outside
systemd the variable is unset and `notify` does nothing. Unlike the `sdnotify` package it
does not swallow errors silently: a failed send is logged once and reported as False.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger("gate-station.systemd")


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        watchdog_usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_interval_s = int(watchdog_usec) / 2e6 if watchdog_usec.isdigit() else None
        self._last_watchdog = 0.0
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, state: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall(state.encode())
            return True
        except OSError as error:
            if not self._warned:
                log.warning("cannot notify systemd at %r: %s", self.address, error)
                self._warned = True
            return False

    def watchdog(self) -> None:
        """WATCHDOG=1, at most every half WatchdogSec; call only after a real loop iteration."""
        if self.watchdog_interval_s is None:
            return
        now = time.monotonic()
        if now - self._last_watchdog >= self.watchdog_interval_s:
            self._last_watchdog = now
            self.notify("WATCHDOG=1")
