"""Hand-over: the console borrows the gate's scanner and thermometer for one registration.

A guard registering a driver or a visitor (registration.md) asks the running gate daemon for
"the next code scanned and the next reading". While such a request is open the gate decides
no entry for that person and never opens the relay: it verifies the code, measures, and
hands both back; the guard's form then writes the `vehicle`/`visitor` record.

Wire protocol (one request per connection, UTF-8 JSON lines) on a Unix stream socket that
only the station's user and group can reach (mode 0660, in the daemon's runtime directory):

    → {"want": "code+reading" | "reading", "timeout_s": 30}
    ← {"ok": true, "code": "THP1:…" | null, "reason": null | "<verification reason>",
       "temperature_c": 36.6 | null, "measurement": "ok" | "timeout" | "sensor-fault" | …}
    ← {"ok": false, "error": "busy" | "timeout" | "bad-request: …"}

`reason` is the code's verification failure (health-code.md) when it did not verify; the
guard sees it and decides (the form will refuse an unverifiable code). Without a running
daemon, `request_capture` raises HandoverUnavailable and the guard types the colour and the
temperature by hand (`code_checked: shown` or `none`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from station.errors import StationError

Want = Literal["code+reading", "reading"]
MAX_REQUEST = 4096
MAX_TIMEOUT_S = 120.0


class HandoverUnavailable(StationError, ConnectionError):
    """No gate daemon answers on the hand-over socket (or it refused the request)."""


@dataclass(frozen=True)
class Capture:
    """What the gate saw for one person registered by the guard."""

    code: str | None
    reason: str | None  # the code's verification failure, or None
    temperature_c: float | None
    measurement: str  # "ok", or why there is no reading ("timeout", "sensor-fault")

    def to_json(self) -> dict[str, Any]:
        return {"ok": True, "code": self.code, "reason": self.reason,
                "temperature_c": self.temperature_c, "measurement": self.measurement}


class CaptureRequest:
    """One open request, shared between the socket thread and the gate loop."""

    def __init__(self, want: Want) -> None:
        self.want = want
        self._done = threading.Event()
        self.result: Capture | None = None

    def complete(self, result: Capture) -> None:
        self.result = result
        self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout_s: float) -> Capture | None:
        return self.result if self._done.wait(timeout_s) else None


class CaptureSlot:
    """At most one open request; the gate loop takes it when the person arrives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._request: CaptureRequest | None = None

    def open(self, want: Want) -> CaptureRequest | None:
        """A new request, or None when one is already open (another guard is registering)."""
        with self._lock:
            if self._request is not None:
                return None
            self._request = CaptureRequest(want)
            return self._request

    def close(self, request: CaptureRequest) -> None:
        with self._lock:
            if self._request is request:
                self._request = None

    @property
    def pending(self) -> CaptureRequest | None:
        """The open request not yet completed, if any (read by the gate loop every step)."""
        request = self._request
        return None if request is None or request.done else request


class HandoverServer:
    """The daemon's side: a socket thread that opens a request in `slot` and waits for the
    gate loop to complete it. `serve_forever` runs until `close`."""

    def __init__(self, path: Path, slot: CaptureSlot) -> None:
        self.path = path
        self.slot = slot
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a stale socket from a daemon that was killed
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o117)  # the socket is born 0660: no window with wider rights
        try:
            self._socket.bind(str(path))
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o660)
        self._socket.listen(4)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, name="handover",
                                        daemon=True)

    def start(self) -> HandoverServer:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5.0)
            try:
                answer = self._answer(_read_line(connection))
            except (OSError, ValueError) as error:
                answer = {"ok": False, "error": f"bad-request: {error}"}
            with contextlib.suppress(OSError):
                connection.sendall(json.dumps(answer, ensure_ascii=False).encode() + b"\n")

    def _answer(self, line: bytes) -> dict[str, Any]:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("a request is a JSON object")
        want = request.get("want")
        timeout_s = request.get("timeout_s", 30)
        if want not in ("code+reading", "reading"):
            raise ValueError("want must be code+reading or reading")
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) \
                or not 0 < timeout_s <= MAX_TIMEOUT_S:
            raise ValueError(f"timeout_s must be a number of seconds up to {MAX_TIMEOUT_S:g}")
        pending = self.slot.open(want)
        if pending is None:
            return {"ok": False, "error": "busy"}
        try:
            result = pending.wait(float(timeout_s))
        finally:
            self.slot.close(pending)
        return result.to_json() if result else {"ok": False, "error": "timeout"}

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = connection.recv(1024)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too long")
    return data.split(b"\n", 1)[0]


def request_capture(path: Path, want: Want = "code+reading", timeout_s: float = 30.0
                    ) -> Capture:
    """Ask the gate daemon at `path` for the next person's code and reading. Blocks up to
    `timeout_s` (plus a little). HandoverUnavailable when no daemon answers, another
    registration holds the gate, or nobody showed up in time."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout_s + 5.0)
        try:
            client.connect(str(path))
            client.sendall(json.dumps({"want": want, "timeout_s": timeout_s}).encode() + b"\n")
            answer = json.loads(_read_line(client) or b"null")
        except (OSError, ValueError) as error:
            raise HandoverUnavailable(f"{path}: no gate daemon answers: {error}") from None
    if not isinstance(answer, dict) or not answer.get("ok"):
        why = answer.get("error") if isinstance(answer, dict) else "no answer"
        raise HandoverUnavailable(f"{path}: the gate did not hand over: {why}")
    return Capture(code=answer.get("code"), reason=answer.get("reason"),
                   temperature_c=answer.get("temperature_c"),
                   measurement=str(answer.get("measurement")))
