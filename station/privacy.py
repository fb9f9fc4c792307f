"""Masking of contact details before a record leaves the station (registration.md, Privacy).

The station keeps names and phone numbers whole (the enterprise traces contacts with them);
what is pushed to the town is masked unless `town.send_contact_details: true`: a name to its
first character and `*` (`张*`), a phone to its first 3 and last 4 digits (`138****5678`).
Hosts, operators and departments are not personal contact data and are not masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NAME_FIELDS = ("name", "driver_name")
PHONE_FIELDS = ("phone", "driver_phone")


def mask_name(name: str) -> str:
    """`张三丰` → `张*`. A name that is already masked (`张*`, as health codes carry it)
    stays as it is; an empty name stays empty."""
    return name[:1] + "*" if name else name


def mask_phone(phone: str) -> str:
    """`13800138000` → `138****8000`; anything shorter than 8 characters is starred whole."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def for_push(record: Mapping[str, Any], *, send_contact_details: bool) -> dict[str, Any]:
    """A copy of a record's JSON ready for the town: contact fields masked unless the
    station is configured to send them. The record itself is not changed."""
    data = dict(record)
    if send_contact_details:
        return data
    for field in NAME_FIELDS:
        if isinstance(data.get(field), str):
            data[field] = mask_name(data[field])
    for field in PHONE_FIELDS:
        if isinstance(data.get(field), str):
            data[field] = mask_phone(data[field])
    return data
