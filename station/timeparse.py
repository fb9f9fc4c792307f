"""Parsing of the times, dates and durations people type on the command line.

A value that does not parse raises ValueError whose one argument is a catalogue sentence
(`Localized`): `str()` is English, the command line prints it in the configured locale."""

from __future__ import annotations

import datetime as dt
import re

from station.clock import CST
from station.errors import Localized

_DURATION = re.compile(r"^\s*([+-]?)(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """'90s', '15m', '24h', '2d', optionally signed → seconds. ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(Localized("time.not_duration", value=repr(text)))
    sign = -1 if match.group(1) == "-" else 1
    return sign * float(match.group(2)) * _UNITS[match.group(3)]


def parse_instant(text: str) -> dt.datetime:
    """ISO 8601 time → aware datetime; a time without offset is China Standard Time."""
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(Localized("time.not_instant", value=repr(text))) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CST)


def aware_instant(value: object) -> dt.datetime | None:
    """An ISO 8601 time with a UTC offset from a JSON value, or None when it is anything else
    (not text, not ISO 8601, no offset): how the bundle's times are read on both sides."""
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def parse_date(text: str) -> dt.date:
    """`YYYY-MM-DD` → date; ValueError (a Localized sentence) otherwise."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(Localized("time.not_date", value=repr(text))) from None


def cst_text(instant: dt.datetime | float) -> str | None:
    """An instant (aware datetime or Unix seconds) as CST `YYYY-MM-DD HH:MM:SS`, or None when
    it lies outside the calendar's years 1–9999 (what `datetime` can hold)."""
    try:
        if isinstance(instant, dt.datetime):
            moment = instant.astimezone(CST)
        else:
            moment = dt.datetime.fromtimestamp(instant, CST)
    except (OverflowError, ValueError, OSError):
        return None
    return moment.replace(microsecond=0, tzinfo=None).isoformat(sep=" ")


def cst_iso(instant: dt.datetime) -> str:
    """An aware instant as an ISO 8601 CST text for comparing with the ledger's times; an
    instant outside the calendar in CST (year 1 or 9999 near the edge) becomes the first or
    last representable CST time, which orders the same against every record."""
    try:
        return instant.astimezone(CST).isoformat()
    except OverflowError:
        edge = dt.datetime.min if instant.year == 1 else dt.datetime.max
        return edge.replace(tzinfo=CST).isoformat()
