"""TESTS ONLY: a town on 127.0.0.1 whose answers a test scripts — honest by default, hostile
or careless when told (a real HTTP server: the station's client talks to it over sockets).

- `bundle`: the body of the next bundle answers (bytes, 200), or None for 404;
- `push_answer(request) -> (status, body[, headers])`: replaces the honest push answer;
- every push request and heartbeat is kept (`pushes`, `heartbeats`).
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PushAnswer = Callable[[dict[str, Any]], tuple[Any, ...]]  # (status, body[, headers])


class ScriptedTown:
    def __init__(self) -> None:
        self.bundle: bytes | None = None
        self.push_answer: PushAnswer | None = None
        self.pushes: list[dict[str, Any]] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.stored: dict[str, set[int]] = {}  # epoch → seqs (the honest town's state)
        self.lock = threading.Lock()
        town = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _body(self) -> bytes:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                return raw

            def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None
                        ) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if not self.path.endswith("/bundle") or town.bundle is None:
                    self._answer(404, {"detail": "no bundle"})
                    return
                self._answer(200, town.bundle)

            def do_POST(self) -> None:
                document = json.loads(self._body())
                if self.path.endswith("/heartbeat"):
                    with town.lock:
                        town.heartbeats.append(document)
                    self.send_response(204)
                    self.end_headers()
                    return
                with town.lock:
                    town.pushes.append(document)
                    answer = (town.push_answer or town.honest)(document)
                self._answer(*answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def honest(self, request: dict[str, Any]) -> tuple[Any, ...]:
        """sync.md's answer: everything stored, acked through the highest contiguous seq."""
        epoch = request["epoch"]
        seqs = self.stored.setdefault(epoch, set())
        seqs.update(entry["seq"] for entry in request["entries"])
        acked = 0
        while acked + 1 in seqs:
            acked += 1
        return 200, {"epoch": epoch, "acked_through": acked,
                     "accepted": len(request["entries"]), "duplicates": 0, "quarantined": []}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ScriptedTown:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
