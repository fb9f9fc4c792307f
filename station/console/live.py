"""The live feed: server-sent events carrying each new ledger record within a second.

One async generator per open page. Every `poll_s` (0.25 s) it opens the ledger read-only in
a worker thread and asks for records after the last seq it sent; the gate's commits are never
waited on or blocked (WAL readers take no lock the writer needs). Each event's id is the
record's seq, so a reconnecting browser (`Last-Event-ID`) misses nothing. A stream ends after
`stream_seconds` and whenever the session ends; the browser reconnects by itself (`retry`).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from anyio import to_thread
from fastapi import Request

from station.console.state import Console
from station.console.web import hms, mask_name, temperature
from station.ledger import LedgerError, Record
from station.messages import Locale, reason_message, text, word

KIND_KEYS = {"entry": "kind.entry", "exit": "kind.exit", "fault": "kind.fault",
             "alarm": "kind.alarm"}


def record_view(record: Record, locale: Locale, *, masked: bool = False) -> dict[str, Any]:
    """What a page shows of a record, as JSON (the browser puts it in with textContent)."""
    name = mask_name(record.name) if masked else (record.name or "")
    kind = KIND_KEYS.get(record.kind)
    return {
        "seq": record.seq, "time": hms(record.time), "kind": record.kind,
        "kind_text": text(f"console.{kind}", locale) if kind else record.kind,
        "subject": "" if masked else (record.subject or ""), "name": name,
        "color": record.color or "", "color_text": word(record.color, locale)
        if record.color else "", "temperature": temperature(record.temperature_c),
        "decision": record.decision or "",
        "decision_text": word(record.decision, locale) if record.decision else "",
        "reasons": "；".join(reason_message(r, locale) for r in record.reasons)
        if record.reasons else ("" if masked else (record.detail or "")),
    }


async def event_stream(console: Console, request: Request, after: int, locale: Locale,
                       kinds: tuple[str, ...], *, masked: bool,
                       still_allowed: Callable[[], bool],
                       counts: Callable[[], dict[str, Any]] | None = None
                       ) -> AsyncIterator[str]:
    """`record` events for new records of `kinds` (and a `counts` event after each batch when
    `counts` is given), `: keep-alive` comments, then the end after stream_seconds."""
    yield "retry: 1000\n\n"
    started = last_check = time.monotonic()
    last_beat = started

    def fetch(seq: int) -> list[Record]:
        try:
            with console.open_ledger() as ledger:
                return ledger.records_after(seq, 200)
        except LedgerError:
            return []

    while time.monotonic() - started < console.stream_seconds:
        if await request.is_disconnected():
            return
        now = time.monotonic()
        if now - last_check > 30:
            if not await to_thread.run_sync(still_allowed):
                yield "event: logout\ndata: {}\n\n"
                return
            last_check = now
        records = await to_thread.run_sync(fetch, after)
        if records:
            for record in records:
                after = record.seq or after
                if record.kind in kinds:
                    data = json.dumps(record_view(record, locale, masked=masked),
                                      ensure_ascii=False)
                    yield f"id: {after}\nevent: record\ndata: {data}\n\n"
            if counts is not None:
                data = json.dumps(await to_thread.run_sync(counts), ensure_ascii=False)
                yield f"id: {after}\nevent: counts\ndata: {data}\n\n"
            last_beat = time.monotonic()
        elif time.monotonic() - last_beat > 15:
            yield ": keep-alive\n\n"
            last_beat = time.monotonic()
        await anyio.sleep(console.poll_s)


def resume_point(request: Request, after: int | None, latest: Callable[[], int]) -> int:
    """Where a stream starts: the browser's Last-Event-ID, else `after`, else the newest."""
    header = request.headers.get("last-event-id", "")
    if header.isdigit():
        return int(header)
    if after is not None:
        return after
    return latest()
