"""A demonstration town for the office console: six enterprises, eight stations and 14 days
of gate records, pushed through the store's own ingest (the path stations use), for the
screenshots in docs/, the browser tests and a first look (`python -m sync.town.office.demo
DB`, on a database made by `town-server db init`: a SQLite file or a PostgreSQL URL).

What it holds, on purpose: fevers (some handled at the gate, one not), denials of several
reasons, vehicles and visitors, device faults, returning workers whose day-7 test is overdue
or due, a worker seen at two enterprises (for the subject trace), an enterprise that registers
nobody on the last day, a silent station and one never heard from. The demo replays history:
each day's records are stored as received a minute after they happened (the store's clock is
set back while they are ingested), so "arrived a later day" stays meaningful.

Failure modes: StoreError from the store (a missing database, an existing station id).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from station.clock import CST, cst_date
from sync.town import store as store_module
from sync.town.store import SqlTownStore

ENTERPRISES = {
    "红炉机械厂": ["honglu-gate1", "honglu-gate2"],
    "永川电子": ["yongchuan-main"],
    "渝西食品": ["yuxi-gate"],
    "双石建材": ["shuangshi-gate"],
    "来苏纺织": ["laisu-gate"],
    "临江物流": ["linjiang-gate", "linjiang-yard"],
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"


@contextmanager
def _received_at(when: dt.datetime) -> Iterator[None]:
    """Ingest as if the server's clock read `when` (history replayed, demo only)."""
    original = store_module.now_cst
    store_module.now_cst = lambda: when
    try:
        yield
    finally:
        store_module.now_cst = original


def _record(seq: int, at: dt.datetime, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "seq": seq, "event_id": str(uuid.uuid4()), "kind": "entry",
        "time": at.isoformat(timespec="milliseconds"), "clock_synced": True,
        "boot_id": "demo", "boottime_ns": 10**12 + seq, "direction": "in",
        "issuer": "500118", "color": "green", "temperature_c": 36.5, "ambient_c": 18.0,
        "decision": "admit", "reasons": []}
    base.update(fields)
    return base


def fill(store: SqlTownStore, last: dt.date | None = None, *, days: int = 14,
         workers: int = 40, seed: int = 7) -> dict[str, str]:
    """Register the demo stations and push `days` days of records ending `last` (today by
    default); an admin token is made too. Returns station id → token."""
    rng = random.Random(seed)
    now = dt.datetime.now(CST)
    last = last or cst_date(now)
    first = last - dt.timedelta(days=days - 1)
    store.set_rule("returning.window", [(first - dt.timedelta(days=30)).isoformat(),
                                        (last + dt.timedelta(days=30)).isoformat()], "demo")
    tokens: dict[str, str] = {}
    for enterprise, stations in ENTERPRISES.items():
        for station in stations:
            tokens[station] = store.add_station(station, enterprise, "demo")
    returning = {f"R{n:03d}": first + dt.timedelta(days=rng.randrange(0, days))
                 for n in range(12)}
    for index, (enterprise, stations) in enumerate(ENTERPRISES.items()):
        people = [(f"W{index}{n:04d}", rng.choice(SURNAMES) + "*") for n in range(workers)]
        people += [(r, rng.choice(SURNAMES) + "*") for r in list(returning)[index * 2:
                                                                             index * 2 + 2]]
        if index == 1:
            people.append(("W00001", "王*"))  # works at two enterprises: the trace finds both
        people = [(s, "王*" if s == "W00001" else n) for s, n in people]
        for station_number, station in enumerate(stations):
            epoch, seq = str(uuid.uuid4()), 0
            for offset in range(days):
                day = first + dt.timedelta(days=offset)
                if enterprise == "渝西食品" and day == last:
                    continue  # registered nobody today: the page must show it
                entries: list[dict[str, Any]] = []
                shift = dt.datetime.combine(day, dt.time(7, 20), CST)
                share = people[station_number::len(stations)]
                for number, (subject, name) in enumerate(share):
                    if rng.random() < 0.08:
                        continue  # off today
                    seq += 1
                    at = shift + dt.timedelta(seconds=25 * number + rng.randrange(20))
                    fields: dict[str, Any] = {"subject": subject, "name": name}
                    if subject in returning:
                        back = returning[subject]
                        if back > day:
                            continue
                        fields.update(returned=back.isoformat(),
                                      origin=rng.choice(["outside-municipality",
                                                         "risk-district"]),
                                      nat=(back - dt.timedelta(days=2)).isoformat())
                    roll = rng.random()
                    if roll < 0.02:
                        temperature = round(rng.uniform(37.4, 38.6), 1)
                        entries.append(_record(seq, at, **fields, temperature_c=temperature,
                                               decision="deny", reasons=["fever"]))
                        seq += 1
                        alarm = _record(seq, at + dt.timedelta(seconds=2), kind="alarm",
                                        **fields, temperature_c=temperature, decision=None,
                                        reasons=None)
                        entries.append(alarm)
                        if not (day == last and index == 0):  # one stays unhandled
                            seq += 1
                            entries.append(_record(
                                seq, at + dt.timedelta(minutes=3), kind="ack",
                                ref_event_id=alarm["event_id"], decision=None, reasons=None,
                                action=rng.choice(["remeasured-normal", "sent-home",
                                                   "sent-to-clinic"]), temperature_c=None))
                        continue
                    if roll < 0.05:
                        fields.update(color="yellow", decision="deny", reasons=["color"])
                    elif roll < 0.07:
                        fields.update(decision="deny", reasons=["followup-nat-due"])
                    fields.setdefault("temperature_c", round(rng.uniform(36.0, 36.9), 1))
                    entries.append(_record(seq, at, **fields))
                for kind in ("vehicle", "visitor"):
                    for _ in range(rng.randrange(0, 4)):
                        seq += 1
                        at = shift + dt.timedelta(hours=rng.randrange(1, 9))
                        extra = {"plate": "渝A" + str(rng.randrange(10000, 99999))} \
                            if kind == "vehicle" else {"name": rng.choice(SURNAMES) + "*"}
                        entries.append(_record(seq, at, kind=kind, decision=None,
                                               reasons=None, temperature_c=None, **extra))
                if rng.random() < 0.15:
                    seq += 1
                    entries.append(_record(seq, shift + dt.timedelta(hours=2), kind="fault",
                                           device=rng.choice(["thermometer", "camera"]),
                                           decision=None, reasons=None, temperature_c=None))
                entries.sort(key=lambda e: e["seq"])
                arrived = dt.datetime.combine(day, dt.time(18), CST)
                if station == "linjiang-yard" and offset % 4 == 0:
                    arrived += dt.timedelta(days=1)  # a poor link: the next day
                with _received_at(min(arrived, now)):
                    store.ingest(station, epoch, {"wall": arrived.isoformat(),
                                                  "synced": True, "boot_id": "demo",
                                                  "boottime_ns": 2 * 10**12}, entries)
    _beat_history(store, tokens, last, now)
    for station in tokens:
        if station in ("laisu-gate",):
            continue  # never heard from
        beat = {"time": now.isoformat(), "clock_synced": True, "version": "0.3.0",
                "backlog": 0 if station != "linjiang-yard" else 37,
                "faults": ["camera"] if station == "shuangshi-gate" else [],
                "bundle_version": None}
        with _received_at(now - dt.timedelta(hours=3) if station == "linjiang-yard" else now):
            store.heartbeat(station, beat)
    return tokens


def _beat_history(store: SqlTownStore, tokens: dict[str, str], last: dt.date,
                  now: dt.datetime) -> None:
    """The last day's heartbeats (one per 10 minutes: a slot of the health history each),
    through the store's own heartbeat: linjiang-yard's backlog grows from noon and it falls
    silent three hours before `now`; shuangshi-gate's camera fails at 10:00; yuxi-gate is
    silent for 40 minutes at noon."""
    start = dt.datetime.combine(last, dt.time(6), CST)
    end = min(dt.datetime.combine(last, dt.time(23, 59), CST), now - dt.timedelta(minutes=1))
    at = start
    while at <= end:
        for station in tokens:
            if station == "laisu-gate" or (station == "linjiang-yard" and
                                           at > now - dt.timedelta(hours=3)):
                continue
            if station == "yuxi-gate" and dt.time(12) <= at.time() < dt.time(12, 40):
                continue
            backlog = max(0, int((at - start.replace(hour=12)).total_seconds() // 600)) \
                if station == "linjiang-yard" else (3 if at.minute == 30 else 0)
            faults = ["camera"] if station == "shuangshi-gate" and at.hour >= 10 else []
            with _received_at(at):
                store.heartbeat(station, {"time": at.isoformat(), "clock_synced": True,
                                          "version": "0.3.0", "backlog": backlog,
                                          "faults": faults, "bundle_version": None})
        at += dt.timedelta(minutes=10)


def main() -> None:
    """`python -m sync.town.office.demo DB [LAST-DAY]`: fill a new town database."""
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m sync.town.office.demo DB [YYYY-MM-DD]")
    from station.errors import StationError

    try:
        store = SqlTownStore(sys.argv[1])  # a SQLite file or a postgresql:// URL
        last = dt.date.fromisoformat(sys.argv[2]) if len(sys.argv) == 3 else None
        fill(store, last)
        admin_id, token = store.new_admin_token("demo", "demo")
    except (StationError, ValueError) as error:
        sys.exit(f"demo: {error}")
    print(f"demo town in {sys.argv[1]}; admin token {admin_id}: {token}")


if __name__ == "__main__":
    main()
