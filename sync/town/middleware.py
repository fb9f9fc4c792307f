"""What the town server does around every request, as one plain ASGI middleware: a POST's
body read once with its limits (1 MiB, after gzip), and the security headers on every answer.

Plain ASGI rather than Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`), which
runs the rest of the app in a task of its own and streams the answer back through a memory
channel: that cost about a millisecond per request on the push path (20,000 records a second
is 100 pushes of 200 records, 10 ms of CPU each at most).

- A POST's body is read here, whole, before any handler runs: larger than `MAX_BODY` (as
  declared by Content-Length or as received) → 413; `Content-Encoding: gzip` that is not
  valid gzip, or inflates past `MAX_BODY` (a gzip bomb stops 1 MiB in) → 400. Handlers find
  the decoded body in `request.state.body`; the bytes as received are handed on unchanged to
  whatever reads the request stream (form parsing).
- Every answer that this middleware sees gets `SECURITY_HEADERS` where the handler did not set
  them; under `/docs` the Content-Security-Policy allows Swagger UI's inline styles. A 500
  made by Starlette's outermost error handler is outside this middleware (as it was).
"""

from __future__ import annotations

import json
import zlib

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
DOCS_CSP = SECURITY_HEADERS["Content-Security-Policy"].replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'")


class BodyTooLarge(Exception):
    """The body is over `MAX_BODY`, as sent or once inflated."""


class ClientGone(Exception):
    """The client disconnected before its body was all there."""


class TownMiddleware:
    """Body limits and security headers (module docstring) around an ASGI app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith("/docs")

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if docs:  # Swagger UI sets inline styles
                    headers["Content-Security-Policy"] = DOCS_CSP
            await send(message)

        if scope["method"] != "POST":
            await self.app(scope, receive, secured)
            return
        try:
            raw = await read_body(scope, receive)
            body = decode_body(scope, raw)
        except ClientGone:
            return  # nobody to answer
        except BodyTooLarge:
            await _answer(secured, 413, f"body larger than {MAX_BODY} bytes")
            return
        except (zlib.error, ValueError):
            await _answer(secured, 400, "body is not valid gzip")
            return
        scope.setdefault("state", {})["body"] = body
        await self.app(scope, _replay(raw, receive), secured)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return None


async def read_body(scope: Scope, receive: Receive) -> bytes:
    """The body as received. BodyTooLarge past `MAX_BODY` (a Content-Length that says so is
    refused before reading); ClientGone if the client left first."""
    declared = _header(scope, b"content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > MAX_BODY:
                raise BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def decode_body(scope: Scope, raw: bytes) -> bytes:
    """The body inflated when it says `Content-Encoding: gzip`. BodyTooLarge past
    `MAX_BODY` inflated; zlib.error for a truncated or broken stream."""
    encoding = _header(scope, b"content-encoding")
    if encoding is None or encoding.strip().lower() != b"gzip":
        return raw
    inflater = zlib.decompressobj(wbits=31)
    body = inflater.decompress(raw, MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise BodyTooLarge  # a gzip bomb stops here, 1 MiB in
    if not inflater.eof:
        raise zlib.error("truncated gzip stream")
    return body


def _replay(raw: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body once, then waits on the real one (a disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return replay


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
