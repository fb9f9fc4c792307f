"""The town's JSON on the push path (sync/town/records.py): `parse_json` reads bodies with
orjson and `canonical` writes record text with orjson, for speed; these pin that both give
exactly what the standard library gave, for any value, and the same refusals."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.town.records import BadJson, _parse_json_slowly, canonical, parse_json


def typed(value: Any) -> Any:
    """A value with each scalar's exact type beside it: 1, 1.0 and true stay apart."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=False) | st.text())
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                      max_leaves=25)


def stdlib(body: bytes) -> Any:
    try:
        return ("ok", typed(_parse_json_slowly(body)))
    except BadJson as error:
        return ("refused", str(error))


def ours(body: bytes) -> Any:
    try:
        return ("ok", typed(parse_json(body)))
    except BadJson as error:
        return ("refused", str(error))


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_parse_json_reads_every_value_as_the_standard_library_does(value: Any) -> None:
    for body in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False)
                 .encode("utf-8", "surrogatepass")):
        assert ours(body) == stdlib(body)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40) | st.text(alphabet='{}[]",:0123456789.eE+-tfnrulsaNIy \\u',
                                         max_size=40).map(str.encode))
def test_parse_json_refuses_what_the_standard_library_refuses(body: bytes) -> None:
    assert ours(body) == stdlib(body)


@pytest.mark.parametrize("body", [
    b'{"a": 123456789012345678901234567890}', b"[-18446744073709551617]", b"1e400",
    b'{"a": "\\ud800"}', b"\xef\xbb\xbf{}", json.dumps({"a": 1}).encode("utf-16"),
    b"[NaN]", b"[Infinity]", b"-Infinity", b"[" * 33 + b"]" * 33, b"[" * 2000 + b"]" * 2000,
    b"[" * 32 + b"]" * 32, b"9223372036854775807", b"18446744073709551615", b"-0", b"-0.0",
    b'{"a": 1, "a": 2.0}', b"\xff", b'"\x01"', b"1" * 5000,
])
def test_parse_json_edge_cases_as_the_standard_library(body: bytes) -> None:
    assert ours(body) == stdlib(body)


@pytest.mark.parametrize("body", [b"1e400", b'{"temperature_c": -1e400}', b"[1.5e999999]"])
def test_a_number_beyond_a_float_is_refused_not_made_infinite(body: bytes) -> None:
    """`json.loads` would read these as infinity, which orjson writes back as null (and
    `json.dumps` as Infinity, not JSON): the record text would not be what was sent."""
    with pytest.raises(BadJson, match="beyond a 64-bit float's range"):
        parse_json(body)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_canonical_text_is_the_standard_librarys_for_station_values(value: Any) -> None:
    """Same text as `json.dumps(sort_keys, compact, UTF-8)` for text, bools, whole numbers
    and the decimals stations send (floats differ only in a few spellings, e.g. 1e-05)."""
    def decimals(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: decimals(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [decimals(inner) for inner in item]
        if isinstance(item, float):
            return round(item % 1000, 2) if math.isfinite(item) else 36.5
        return item

    value = decimals(value)
    try:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False)
    except ValueError:
        return
    assert canonical(value) == expected
    assert json.loads(canonical(value)) == value
