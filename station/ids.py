"""Identifiers shared by the station and the town: one rule per kind of id (sync.md)."""

from __future__ import annotations

import re

STATION_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
STATION_ID_RULE = "1–64 characters of A-Z a-z 0-9 . _ -"


def is_station_id(value: object) -> bool:
    """True when `value` is a station id as sync.md defines it (ASCII only; fullmatch)."""
    return (isinstance(value, str) and value.isascii()
            and STATION_ID_PATTERN.fullmatch(value) is not None)
