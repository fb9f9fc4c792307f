"""Generate a realistic scenario for a morning shift: N workers arriving at one gate.

Used for the shipped `scenarios/morning-shift.yaml`, the kill-9 durability test and the
simulate benchmark. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import yaml

from station.clock import CST

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)


def morning_shift(workers: int, *, seed: int = 2021, day: dt.date = dt.date(2021, 2, 22),
                  start: dt.time = dt.time(7, 0), minutes: int = 60) -> dict[str, Any]:
    """A scenario dict: `workers` arrivals spread over `minutes`, with the usual mix of
    fevers (re-checked), yellow codes, returning workers, people without codes, people who
    walk away, a few repeated scans, and exits."""
    rng = random.Random(seed)
    begin = dt.datetime.combine(day, start, CST)
    gaps = sorted(rng.uniform(0, minutes * 60) for _ in range(workers))
    events: list[dict[str, Any]] = []
    previous = 0.0
    for index, offset in enumerate(gaps):
        offset = max(offset, previous + 4.0)  # one person at a time at the gate
        previous = offset
        event: dict[str, Any] = {"at": (begin + dt.timedelta(seconds=offset)).strftime("%H:%M:%S")}
        roll = rng.random()
        code: dict[str, Any] = {"sub": f"W{index + 1:07d}", "name": rng.choice(SURNAMES) + "*",
                                "color": "green", "org": "HL-JX-001"}
        temperature: Any = round(rng.gauss(36.5, 0.25), 1)
        temperature = min(max(temperature, 35.8), 37.1)
        if roll < 0.01:
            temperature = [round(rng.uniform(37.4, 38.5), 1), round(rng.uniform(37.3, 38.5), 1)]
        elif roll < 0.03:
            temperature = [round(rng.uniform(37.3, 37.8), 1), round(rng.uniform(36.2, 37.0), 1)]
        elif roll < 0.04:
            code["color"] = rng.choice(["yellow", "red"])
        elif roll < 0.10:
            returned = day - dt.timedelta(days=rng.randrange(1, 20))
            code["returned"] = {"date": returned.isoformat(),
                                "origin": rng.choice(["outside-municipality", "risk-district",
                                                      "key-population"])}
            if rng.random() < 0.9:
                code["nat"] = (returned - dt.timedelta(days=rng.randrange(0, 4))).isoformat()
            if rng.random() < 0.6 and (day - returned).days > 8:
                code["nat"] = (returned + dt.timedelta(days=rng.randrange(7, 9))).isoformat()
        elif roll < 0.11:
            events.append({"at": event["at"], "temperature": temperature})  # forgot the code
            continue
        elif roll < 0.115:
            event["code"] = code  # walks away before being measured
            events.append(event)
            continue
        elif roll < 0.125:
            events.append({"at": event["at"], "exit": True})
            continue
        event["code"] = code
        event["temperature"] = temperature
        events.append(event)
    return {"start": begin.isoformat(), "events": events}


def dump(scenario: dict[str, Any]) -> str:
    return yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False, width=100)
