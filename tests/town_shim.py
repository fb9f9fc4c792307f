"""TESTS ONLY: the real town server (sync.town_app) with what sync.md v1.1 adds on the town
side and the town branch is building in parallel: the push answer echoes `epoch`, and with
`--bundle-key FILE` the bundle answer is the signed envelope (serial = the store's bundle
counter + 1, issued at its change time, valid for 7 days). Both steps stand aside when the
app already does it. Run: `python -m tests.town_shim --db DB --port N [--bundle-key PEM]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.bundlesign import document, signed

Message = MutableMapping[str, Any]
ASGIApp = Callable[[Message, Callable[[], Awaitable[Message]],
                    Callable[[Message], Awaitable[None]]], Awaitable[None]]


class SyncV11Shim:
    def __init__(self, app: ASGIApp, bundle_key: ed25519.Ed25519PrivateKey | None) -> None:
        self.app = app
        self.bundle_key = bundle_key

    async def __call__(self, scope: Message, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        path, method = scope.get("path", ""), scope.get("method")
        station_path = scope["type"] == "http" and path.startswith("/api/v1/stations/")
        push = station_path and method == "POST" and path.endswith("/entries")
        bundle = station_path and method == "GET" and path.endswith("/bundle") and \
            self.bundle_key is not None
        if not (push or bundle):
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        if push:
            while True:
                message = await receive()
                received.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
        request_body = b"".join(m.get("body", b"") for m in received)
        gzipped = any(k.lower() == b"content-encoding" and v.strip() == b"gzip"
                      for k, v in scope.get("headers", []))
        pending = list(received)

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if start.get("status") == 200 or (push and 200 <= start.get("status", 0) < 300):
                body = (self._echo_epoch(body, request_body, gzipped) if push
                        else self._sign(body))
            headers = [(k, v) for k, v in start.get("headers", [])
                       if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, replay, capture)

    @staticmethod
    def _echo_epoch(body: bytes, request_body: bytes, gzipped: bool) -> bytes:
        answer = json.loads(body)
        if "epoch" in answer:
            return body
        raw = gzip.decompress(request_body) if gzipped else request_body
        return json.dumps({"epoch": json.loads(raw)["epoch"], **answer}).encode()

    def _sign(self, body: bytes) -> bytes:
        bundle = json.loads(body)
        if "payload" in bundle or self.bundle_key is None:
            return body
        changed, _, counter = bundle["version"].rpartition("#")
        issued = dt.datetime.fromisoformat(changed).replace(microsecond=0)
        doc = document(int(counter) + 1, issued_at=issued, trust=bundle["trust"],
                       rules=bundle["rules"])
        doc["version"] = bundle["version"]
        return signed(self.bundle_key, doc)


def main() -> None:
    import uvicorn

    from sync.town_app import Settings, create_app
    from sync.town_cli import open_store

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bundle-key")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    key = None
    if args.bundle_key:
        loaded = serialization.load_pem_private_key(Path(args.bundle_key).read_bytes(), None)
        assert isinstance(loaded, ed25519.Ed25519PrivateKey)
        key = loaded
    app = SyncV11Shim(create_app(open_store(args.db), Settings()), key)  # type: ignore[arg-type]
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=args.log_level,
                server_header=False)


if __name__ == "__main__":
    main()
