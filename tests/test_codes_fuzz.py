"""Property tests: whatever the input, verify() raises only CodeError, never hangs, and never
accepts a code whose signed content was altered.

Note on "altered": some byte changes leave the signed content intact (the padding bits after
deflate's last block are ignored by every inflater, and the unprotected header is unsigned by
design). Such a code carries exactly the issuer's claims, so the property checked is that an
accepted mutant decodes to the original protected header, payload and signature.
"""

from __future__ import annotations

import zlib
from typing import Any

import base45
import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.codes import REASONS, CodeError, verify
from station.trust import TrustList
from tests.conftest import ED25519_VECTOR, VECTOR_NOW

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
FUZZ = settings(max_examples=400, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def signed_parts(text: str) -> tuple[Any, ...]:
    cose = cbor2.loads(zlib.decompress(base45.b45decode(text[5:])))
    items = cose.value if isinstance(cose, cbor2.CBORTag) else cose
    return items[0], items[2], items[3]


ORIGINAL = signed_parts(ED25519_VECTOR)


def check(text: Any, trust: TrustList) -> None:
    try:
        verify(text, trust, VECTOR_NOW)
    except CodeError as error:
        assert error.reason in REASONS
        return
    assert signed_parts(text) == ORIGINAL, "accepted a code whose signed content changed"


@FUZZ
@given(st.text(max_size=1500))
def test_arbitrary_text(spec_trust: TrustList, text: str) -> None:
    check(text, spec_trust)


@FUZZ
@given(st.text(alphabet=ALPHABET, max_size=1300))
def test_arbitrary_base45_text_after_the_prefix(spec_trust: TrustList, body: str) -> None:
    check("THP1:" + body, spec_trust)


@FUZZ
@given(st.binary(max_size=800))
def test_arbitrary_bytes_base45_encoded(spec_trust: TrustList, data: bytes) -> None:
    check("THP1:" + base45.b45encode(data).decode(), spec_trust)


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_compressed_and_encoded(spec_trust: TrustList, data: bytes) -> None:
    check("THP1:" + base45.b45encode(zlib.compress(data)).decode(), spec_trust)


@FUZZ
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.binary(max_size=20)
                    | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=5)
                    | st.dictionaries(st.integers(-8, 8), children, max_size=5),
                    max_leaves=30))
def test_arbitrary_cbor_structures(spec_trust: TrustList, item: Any) -> None:
    for wrapped in (item, cbor2.CBORTag(18, item), [cbor2.dumps(item), {}, cbor2.dumps(item),
                                                    b"\x00" * 64]):
        text = "THP1:" + base45.b45encode(zlib.compress(cbor2.dumps(wrapped))).decode()
        check(text, spec_trust)


@FUZZ
@given(st.integers(min_value=6, max_value=len(ED25519_VECTOR) - 1))
def test_truncated_codes(spec_trust: TrustList, length: int) -> None:
    check(ED25519_VECTOR[:length], spec_trust)


@FUZZ
@given(st.data())
def test_characters_replaced(spec_trust: TrustList, data: st.DataObject) -> None:
    text = list(ED25519_VECTOR)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(5, len(text) - 1))
        text[index] = data.draw(st.sampled_from(ALPHABET))
    check("".join(text), spec_trust)


@FUZZ
@given(st.data())
def test_characters_inserted_or_deleted(spec_trust: TrustList, data: st.DataObject) -> None:
    text = ED25519_VECTOR
    index = data.draw(st.integers(5, len(text)))
    if data.draw(st.booleans()):
        text = text[:index] + data.draw(st.text(alphabet=ALPHABET, min_size=1, max_size=3)) \
            + text[index:]
    else:
        text = text[:index] + text[index + data.draw(st.integers(1, 3)):]
    check(text, spec_trust)


@FUZZ
@given(st.data())
def test_bit_flips_in_the_compressed_bytes(spec_trust: TrustList, data: st.DataObject) -> None:
    raw = bytearray(base45.b45decode(ED25519_VECTOR[5:]))
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    check("THP1:" + base45.b45encode(bytes(raw)).decode(), spec_trust)


@FUZZ
@given(st.data())
def test_bit_flips_in_the_cose_bytes(spec_trust: TrustList, data: st.DataObject) -> None:
    raw = bytearray(zlib.decompress(base45.b45decode(ED25519_VECTOR[5:])))
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    check("THP1:" + base45.b45encode(zlib.compress(bytes(raw))).decode(), spec_trust)
