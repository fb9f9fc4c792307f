"""The town's per-record checks (sync/town/records.py `record_problem`), field type by field
type: what goes to quarantine and why. The push path runs them 20,000 times a second, so they
are written with exact type tests; these cases pin that they still refuse what JSON could
carry in each place."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from station.clock import cst_date
from sync.town.records import check_record, record_problem


def good(**fields: Any) -> dict[str, Any]:
    return {"seq": 1, "event_id": "e-1", "kind": "entry", "time": "2021-02-01T23:30:00+08:00",
            "clock_synced": True, "subject": "W1", "temperature_c": 36.5, "readings": [36.5],
            "reasons": [], **fields}


def test_a_good_record_passes_with_its_cst_day() -> None:
    assert check_record(good()) == ("2021-02-01", None)
    assert check_record(good(time="2021-02-01T16:30:00+00:00")) == ("2021-02-02", None)
    assert record_problem(good(name=None, plate_other=None, temperature_c=None,
                               readings=None, reasons=None, boottime_ns=None)) is None
    assert record_problem(good(temperature_c=37, readings=[36, 36.5], occupants=60,
                               plate_other=False, boottime_ns=0)) is None


@pytest.mark.parametrize(("fields", "problem"), [
    ({"clock_synced": 1}, "clock_synced must be true or false"),
    ({"subject": 1}, "subject must be text or null"),
    ({"name": ["王"]}, "name must be text or null"),
    ({"note": True}, "note must be text or null"),
    ({"plate_other": "yes"}, "plate_other must be true, false or null"),
    ({"cold_chain": 0}, "cold_chain must be true, false or null"),
    ({"temperature_c": True}, "temperature_c must be a number or null"),
    ({"ambient_c": "21.5"}, "ambient_c must be a number or null"),
    ({"remeasure_c": 2e6}, "remeasure_c is out of range"),
    ({"boottime_ns": -1}, "boottime_ns must be a whole number"),
    ({"boottime_ns": 1.5}, "boottime_ns must be a whole number"),
    ({"occupants": 61}, "occupants must be a whole number from 0 to 60"),
    ({"occupants": True}, "occupants must be a whole number from 0 to 60"),
    ({"readings": 36.5}, "readings must be a list of numbers"),
    ({"readings": [36.5, False]}, "readings must be a list of numbers"),
    ({"readings": [36.5, "37"]}, "readings must be a list of numbers"),
    ({"readings": [1e7]}, "readings must be a list of numbers"),
    ({"reasons": "fever"}, "reasons must be a list of text"),
    ({"reasons": ["fever", 1]}, "reasons must be a list of text"),
    ({"kind": "ack"}, "an ack needs ref_event_id"),
    ({"event_id": ""}, "event_id must be non-empty text"),
    ({"kind": "party"}, "kind must be one of"),
    ({"time": "2021-02-01T23:30:00"}, "time has no UTC offset"),
    ({"time": "yesterday"}, "time is not ISO 8601"),
    ({"time": "9999-12-31T23:30:00-08:00"}, "time is out of range"),
])
def test_a_field_of_the_wrong_kind_names_itself(fields: dict[str, Any], problem: str) -> None:
    found = record_problem(good(**fields))
    assert found is not None and found.startswith(problem), found
    assert check_record(good(**fields))[0] is None


def test_an_unknown_field_is_not_checked() -> None:
    """sync.md: a station newer than the town may send fields the town does not know."""
    assert record_problem(good(future_field={"any": ["thing"]})) is None


def reference_day(text: str) -> tuple[str | None, str | None]:
    """The CST date as `check_record` gave it before its fast path for +08:00: by
    converting, refusing a time whose UTC or CST form leaves years 1–9999."""
    parsed = dt.datetime.fromisoformat(text)
    try:
        day = cst_date(parsed).isoformat()
        parsed.astimezone(dt.UTC)
    except OverflowError:
        return None, "time is out of range (years 1–9999 in UTC and CST)"
    return day, None


@pytest.mark.parametrize("time", [
    "0001-01-01T00:00:00+08:00", "0001-01-01T07:59:59.999999+08:00",
    "0001-01-01T08:00:00+08:00", "0001-01-02T00:00:00+08:00", "0002-01-01T00:00:00+08:00",
    "9999-12-31T23:59:59.999999+08:00", "9999-12-31T23:59:59+08:00:00.000001",
    "9999-12-31T15:59:59+00:00", "9999-12-31T16:00:00+00:00", "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00-00:01", "2021-02-01T23:59:59.999+08:00", "2021-02-01T00:00:00+08:00",
    "2021-02-01T16:00:00+00:00", "2021-02-01T23:59:59+07:59", "2021-02-01T00:00:00+08:01",
    "20210201T000000+0800", "2021-02-01T00:00:00+08:00:00", "2021-02-28T23:00:00",
])
def test_the_cst_day_is_the_one_the_conversion_gives(time: str) -> None:
    """Most records carry +08:00, whose date is taken as written; every time gives the day
    (or the refusal) converting it gives."""
    try:
        wanted = reference_day(time)
    except ValueError:
        return  # not ISO 8601 (the checks say so: test above)
    if dt.datetime.fromisoformat(time).tzinfo is None:
        return
    assert check_record(good(time=time)) == wanted, time
