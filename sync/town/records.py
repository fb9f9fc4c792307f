"""What the town accepts from a station, record by record (sync.md, registration.md).

- `parse_json`: RFC 8259 JSON only (`NaN`/`Infinity` are not JSON), nested at most
  `MAX_DEPTH` deep, integers of at most 4300 digits: anything else is `BadJson`, a 400.
- `record_problem`: why a record must go to quarantine (a field of the wrong type or out of
  range), or None. Quarantine keeps the raw JSON and counts as stored.
- `same_content`: sync.md's "same content": fields present in both versions are equal,
  except the contact fields that masking touches; a field in only one version is ignored.
- `corrected_time`: the time the server believes the event happened.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import orjson

from station.clock import cst_date

RECORD_KINDS = ("entry", "exit", "fault", "alarm", "vehicle", "visitor", "ack")
MASKED_FIELDS = frozenset({"name", "phone", "driver_name", "driver_phone"})
MAX_DEPTH = 32
INT64_MAX = 2**63 - 1
NUMBER_LIMIT = 1e6  # no measured value of any record comes near it

TEXT_FIELDS = (
    "boot_id", "direction", "subject", "name", "issuer", "org", "color", "nat", "returned",
    "origin", "decision", "detail", "device", "operator", "plate", "vehicle_type", "carrier",
    "driver_name", "driver_phone", "code_checked", "cargo", "disinfection_method",
    "disinfection_operator", "host", "visit_id", "phone", "id_last4", "organisation",
    "purpose", "vehicle_id", "ref_event_id", "action", "note")
BOOL_FIELDS = ("plate_other", "via_risk_area", "cold_chain", "disinfected")
NUMBER_FIELDS = ("temperature_c", "ambient_c", "remeasure_c")
_FIELD_KINDS: dict[str, type] = {**dict.fromkeys(TEXT_FIELDS, str),
                                 **dict.fromkeys(BOOL_FIELDS, bool)}


_CONTAINERS = frozenset({dict, list})


class BadJson(ValueError):
    """The body is not JSON a station may send; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise BadJson(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply `value` nests (a scalar is 0), level by level, without recursion; stops
    counting past `limit`."""
    return _walk(value, limit)[0]


def _walk(value: Any, limit: int) -> tuple[int, bool]:
    """(`depth(value)`, whether a float of 2^63 or more in size is in it) in one pass."""
    deepest = 0
    huge = False
    level = [value] if type(value) in _CONTAINERS else []
    while level and deepest <= limit:
        deepest += 1
        below: list[Any] = []
        append = below.append
        for item in level:  # a JSON parser makes exactly dict and list: `type` is enough
            for child in item.values() if type(item) is dict else item:
                kind = type(child)
                if kind in _CONTAINERS:
                    append(child)
                elif kind is float and not -_HUGE < child < _HUGE:
                    huge = True
        level = below
    return deepest, huge or (type(value) is float and not -_HUGE < value < _HUGE)


_HUGE = 2.0**63


def parse_json(body: bytes) -> Any:
    """A request body as JSON, or BadJson naming the problem.

    orjson parses it (twice as fast as `json`: the push path parses 20,000 records a
    second); the answer is always the one `json.loads` gives. Where the two could differ,
    `json` parses the body again: anything orjson refuses (so the error named is `json`'s:
    a lone surrogate, a number too large for a float, UTF-16, a byte-order mark, deep
    nesting), and any float of 2^63 or more in size, since orjson reads an integer beyond
    64 bits as a float where `json` keeps it whole."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _parse_json_slowly(body)
    deepest, huge = _walk(document, MAX_DEPTH)
    if huge:
        return _parse_json_slowly(body)
    if deepest > MAX_DEPTH:
        raise BadJson(f"body is nested deeper than {MAX_DEPTH} levels")
    return document


def _finite_float(text: str) -> float:
    """A JSON number as a float, or BadJson when it is beyond a float's range: `json` would
    make it infinity, which no record field takes and no JSON text can carry back out."""
    value = float(text)
    if value in (math.inf, -math.inf):
        raise BadJson(f"number {text[:20]}{'…' if len(text) > 20 else ''} is beyond a "
                      "64-bit float's range")
    return value


def _parse_json_slowly(body: bytes) -> Any:
    """`parse_json` by the standard library alone."""
    try:
        document = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except BadJson:
        raise
    except RecursionError:
        raise BadJson(f"body is nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise BadJson("body is not UTF-8") from None
    except json.JSONDecodeError as error:
        raise BadJson(f"body is not JSON: {error.msg} at line {error.lineno} column "
                      f"{error.colno}") from None
    except ValueError as error:  # an integer literal of more than 4300 digits
        raise BadJson(f"body is not acceptable JSON: {error}") from None
    if depth(document) > MAX_DEPTH:
        raise BadJson(f"body is nested deeper than {MAX_DEPTH} levels")
    return document


def parse_time(value: Any, name: str = "time") -> tuple[dt.datetime | None, str | None]:
    """An ISO 8601 time with offset whose CST date exists: (parsed, None) or (None, why)."""
    parsed, _, problem = _time_and_day(value, name)
    return parsed, problem


def _time_and_day(value: Any, name: str) -> tuple[dt.datetime | None, str | None, str | None]:
    """(parsed, its CST date as text, None), or (None, None, why)."""
    if not isinstance(value, str):
        return None, None, f"{name} must be ISO 8601 text"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None, None, f"{name} is not ISO 8601"
    offset = parsed.utcoffset()
    if offset is None:
        return None, None, f"{name} has no UTC offset"
    if offset == _CST_OFFSET and parsed.year > 1:
        # a station's own zone (nearly every record): its date is the CST date, and no
        # conversion can leave years 1–9999 (only one before 08:00 on 0001-01-01 could)
        return parsed, parsed.date().isoformat(), None
    try:
        day = cst_date(parsed).isoformat()
        parsed.astimezone(dt.UTC)
    except OverflowError:
        return None, None, f"{name} is out of range (years 1–9999 in UTC and CST)"
    return parsed, day, None


_CST_OFFSET = dt.timedelta(hours=8)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def record_problem(entry: dict[str, Any]) -> str | None:
    """Why a record cannot be accepted (it goes to quarantine), or None when it can."""
    return check_record(entry)[1]


def check_record(entry: dict[str, Any]) -> tuple[str | None, str | None]:
    """(the record's CST day as YYYY-MM-DD, None) when it can be accepted, else (None, why):
    one pass, so the ingest parses each time once."""
    if not isinstance(entry.get("event_id"), str) or not entry["event_id"]:
        return None, "event_id must be non-empty text"
    if entry.get("kind") not in RECORD_KINDS:
        return None, f"kind must be one of {', '.join(RECORD_KINDS)}"
    _, day, problem = _time_and_day(entry.get("time"), "time")
    if problem:
        return None, problem
    problem = _field_problem(entry)
    return (None, problem) if problem is not None else (day, None)


_KIND_WORDS = {str: "text", bool: "true, false"}
_NUMBER_TYPES = (int, float)  # json.loads makes exactly these (and bool, which is not one)


def _field_problem(entry: dict[str, Any]) -> str | None:
    # The push path checks every field of every record (20,000 a second): exact `type`
    # tests (JSON values are never subclasses), one dict lookup for the field's kind.
    if type(entry.get("clock_synced")) is not bool:
        return "clock_synced must be true or false"
    kinds = _FIELD_KINDS
    for name, value in entry.items():  # in the record's order: the first bad field is named
        kind = kinds.get(name)
        if kind is not None and type(value) is not kind and value is not None:
            return f"{name} must be {_KIND_WORDS[kind]} or null"
    boottime = entry.get("boottime_ns")
    if boottime is not None and (type(boottime) is not int or not 0 <= boottime <= INT64_MAX):
        return "boottime_ns must be a whole number from 0 to 2^63-1, or null"
    for name in NUMBER_FIELDS:
        value = entry.get(name)
        if value is None:
            continue
        if type(value) not in _NUMBER_TYPES:
            return f"{name} must be a number or null"
        if not -NUMBER_LIMIT < value < NUMBER_LIMIT:
            return f"{name} is out of range"
    occupants = entry.get("occupants")
    if occupants is not None and (type(occupants) is not int or not 0 <= occupants <= 60):
        return "occupants must be a whole number from 0 to 60, or null"
    readings = entry.get("readings", [])
    if readings is not None:
        if type(readings) is not list:
            return "readings must be a list of numbers"
        for reading in readings:
            if type(reading) not in _NUMBER_TYPES or not -NUMBER_LIMIT < reading < NUMBER_LIMIT:
                return "readings must be a list of numbers"
    reasons = entry.get("reasons", [])
    if reasons is not None:
        if type(reasons) is not list:
            return "reasons must be a list of text"
        for reason in reasons:
            if type(reason) is not str:
                return "reasons must be a list of text"
    if entry["kind"] == "ack" and not entry.get("ref_event_id"):
        return "an ack needs ref_event_id (the event_id of the alarm it handles)"
    return None


def _same(a: Any, b: Any) -> bool:
    # JSON equality: 1 and true are different values, 1 and 1.0 the same number
    return canonical(a) == canonical(b) or (
        _is_number(a) and _is_number(b) and a == b)


def same_content(stored: Any, incoming: Any) -> bool:
    """sync.md: every field present in both versions is equal, except the masked contact
    fields; a field present in only one version does not make a conflict."""
    if not isinstance(stored, dict) or not isinstance(incoming, dict):
        return _same(stored, incoming)
    shared = (stored.keys() & incoming.keys()) - MASKED_FIELDS
    return all(_same(stored[key], incoming[key]) for key in shared)


def corrected_time(entry: dict[str, Any], clock: dict[str, Any],
                   received: dt.datetime) -> str | None:
    """The station's own time when its clock was NTP-synchronized; otherwise, for records of
    the request's boot, server_now − (clock.boottime_ns − entry.boottime_ns); else unknown."""
    if entry.get("clock_synced") is True:
        return str(entry["time"])
    clock_boot = clock.get("boottime_ns")
    same_boot = (isinstance(clock.get("boot_id"), str) and clock.get("boot_id") ==
                 entry.get("boot_id") and type(clock_boot) is int
                 and type(entry.get("boottime_ns")) is int)
    if same_boot:
        ago_ns = clock_boot - entry["boottime_ns"]
        try:
            if ago_ns >= 0:
                return (received - dt.timedelta(microseconds=ago_ns // 1000)).isoformat(
                    timespec="milliseconds")
        except OverflowError:  # a boot time of centuries: the station's clock data is junk
            return None
    return None


def canonical(value: Any) -> str:
    """One text per JSON value: sorted keys, no spaces, UTF-8 kept (the stored `raw` and,
    hashed, the `digest` of every record; 20,000 a second on the push path).

    orjson writes it, ten times faster than `json.dumps` and the same text for every value a
    station sends (text, bools, integers, floats such as 36.5); it differs only in how a few
    floats are spelt (1e-05 is 0.00001), so a record stored by an older town-server may have
    another digest: a re-push then falls back to comparing content (`same_content`), which
    is still right. What orjson cannot write (an integer beyond 64 bits, text with a lone
    surrogate) goes through `json.dumps` as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
