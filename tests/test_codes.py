"""THP1 verification and issuing against health-code.md.

Negative cases mirror the EU DCC public test suite (eu-digital-green-certificates/dgc-testdata,
common/2DCode/raw), rebuilt for THP1 (our prefix, claims and keys), each asserting the spec's
exact reason code. Test ids carry the EU case id:

| EU case | EU description                                               | THP1 reason     |
|---------|--------------------------------------------------------------|-----------------|
| H1      | Context does not match schema (HL0:)                         | format          |
| H2      | Context value not supported (HC2:)                           | format          |
| H3      | Context value missing (only BASE45 encoding)                 | format          |
| B1      | BASE45 invalid (wrong encoding characters)                   | encoding        |
| Z1      | Compression broken                                           | compression     |
| Z2      | Not compressed                                               | compression     |
| CBO1    | wrong CBOR structure                                         | claims          |
| CBO2    | wrong CWT structure                                          | claims          |
| CO1/CO2 | VALID with RSA 2048/3072 keys (EU)                           | structure: THP1 |
|         |                                                              | has EdDSA/ES256 |
| CO4     | KID not found in trust list                                  | unknown-key     |
| CO5     | Signature cryptographically invalid                          | signature       |
| CO16    | validation clock before "ISSUED AT"                          | not-yet-valid   |
| CO17    | validation clock after "expired"                             | expired         |
| CO19    | VALID (EU): kid only in the unprotected header               | structure: THP1 |
|         |                                                              | reads the kid   |
|         |                                                              | from the        |
|         |                                                              | protected header|
|         |                                                              | only            |
| CO20    | VALID: kid correct in both headers                           | valid           |
| CO21    | VALID: protected kid correct, unprotected kid wrong          | valid           |
| CO23    | INVALID: no protected kid, unprotected kid wrong             | structure       |
| DGC1–6  | payload content / schema errors                              | claims          |

CO6–CO15 test X.509 key-usage OIDs; THP1 keys are bare SPKIs without certificates, so those
cases have no counterpart here.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from station.clock import cst_date
from station.codes import (
    MAX_INFLATED,
    CodeError,
    Color,
    HealthClaims,
    Origin,
    Returning,
    epoch_day,
    from_epoch_day,
    issue,
    key_id,
    verify,
)
from station.trust import TrustList, trust_entry
from tests.conftest import ED25519_VECTOR, ES256_VECTOR, VECTOR_NOW

NOW = VECTOR_NOW
CLAIMS = {1: "500118", 4: NOW + 3600, 6: NOW - 3600, -1: 1, -2: "W0012345", -3: "张*", -4: 0}


def build(key: Any, claims: Any = None, *, protected: Any = None, unprotected: Any = None,
          tag: int | None = 18, compress: bool = True, prefix: str = "THP1:",
          raw_payload: bytes | None = None, signature: bytes | None = None,
          protected_bytes: bytes | None = None) -> str:
    """A code assembled step by step, so each layer can be broken on purpose."""
    if protected is None:
        alg = -8 if isinstance(key, ed25519.Ed25519PrivateKey) else -7
        protected = {1: alg, 4: key_id(key.public_key())}
    if protected_bytes is None:
        protected_bytes = cbor2.dumps(protected)
    payload = raw_payload if raw_payload is not None else cbor2.dumps(
        CLAIMS if claims is None else claims)
    signed = cbor2.dumps(["Signature1", protected_bytes, b"", payload])
    if signature is None:
        if isinstance(key, ed25519.Ed25519PrivateKey):
            signature = key.sign(signed)
        else:
            r, s = decode_dss_signature(key.sign(signed, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    cose: Any = [protected_bytes, unprotected or {}, payload, signature]
    if tag is not None:
        cose = cbor2.CBORTag(tag, cose)
    data = cbor2.dumps(cose)
    if compress:
        data = zlib.compress(data, 9)
    return prefix + str(base45.b45encode(data).decode())


def reason(text: Any, trust: TrustList, now: float = NOW) -> str:
    with pytest.raises(CodeError) as info:
        verify(text, trust, now)
    return info.value.reason


# -- the spec's test vectors ------------------------------------------------------------------


def test_ed25519_vector_verifies_to_the_listed_claims(spec_trust: TrustList) -> None:
    claims = verify(ED25519_VECTOR, spec_trust, NOW)
    assert claims == HealthClaims(
        iss="500118", iat=1612134000, exp=1612220400, v=1, sub="W0012345", name="张*",
        color=Color.GREEN, nat=dt.date(2021, 1, 29),
        ret=Returning(dt.date(2021, 1, 30), Origin.OUTSIDE_MUNICIPALITY), org="HL-JX-001")
    assert len(ED25519_VECTOR) == 242


def test_es256_vector_verifies_to_the_listed_claims(spec_trust: TrustList) -> None:
    claims = verify(ES256_VECTOR, spec_trust, NOW)
    assert (claims.sub, claims.color, claims.iss, claims.name) == (
        "W0099999", Color.YELLOW, "500118", None)
    assert (claims.iat, claims.exp) == (1612134000, 1612220400)


def test_issuing_reproduces_the_ed25519_vector_byte_for_byte(
        spec_key: ed25519.Ed25519PrivateKey, spec_trust: TrustList) -> None:
    claims = verify(ED25519_VECTOR, spec_trust, NOW)
    assert issue(spec_key, claims) == ED25519_VECTOR
    assert key_id(spec_key.public_key()).hex() == "646d6be49d9f0048"


def test_issued_es256_codes_verify() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    trust = TrustList.from_document({"keys": [trust_entry(key.public_key(), "500118")]})
    claims = HealthClaims(iss="500118", iat=NOW - 60, exp=NOW + 60, sub="W1", color=Color.RED)
    assert verify(issue(key, claims), trust, NOW) == claims


def test_epoch_days_are_china_standard_time_dates() -> None:
    assert epoch_day(dt.date(2021, 1, 29)) == 18656
    assert from_epoch_day(18657) == dt.date(2021, 1, 30)
    # 2021-01-31 16:30 UTC is already 2021-02-01 in Chongqing
    assert cst_date(dt.datetime(2021, 1, 31, 16, 30, tzinfo=dt.UTC)) == dt.date(2021, 2, 1)


# -- H: prefix / format -----------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    pytest.param("HL0:" + ED25519_VECTOR[5:], id="H1-other-context"),
    pytest.param("HC1:" + ED25519_VECTOR[5:], id="H1-eu-context"),
    pytest.param("THP2:" + ED25519_VECTOR[5:], id="H2-unsupported-version"),
    pytest.param(ED25519_VECTOR[5:], id="H3-no-context"),
    pytest.param("thp1:" + ED25519_VECTOR[5:], id="case-sensitive-prefix"),
    pytest.param("https://example.invalid/not-a-health-code", id="a-url"),
    pytest.param("", id="empty"),
])
def test_bad_prefix_is_format(text: str, spec_trust: TrustList) -> None:
    assert reason(text, spec_trust) == "format"


def test_over_1200_characters_is_format_before_decoding(spec_trust: TrustList) -> None:
    assert reason("THP1:" + "0" * 1196, spec_trust) == "format"


@pytest.mark.parametrize("value", [None, b"THP1:", 42, ["THP1:"]])
def test_non_text_input_is_format(value: Any, spec_trust: TrustList) -> None:
    assert reason(value, spec_trust) == "format"


# -- B: Base45 --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["NCF/80I2Ä", "ncf/80", "GGW", "A", "::::",
                                  ED25519_VECTOR[5:-1] + "="],
                         ids=["B1-non-ascii", "B1-lowercase", "B1-overflow", "B1-dangling",
                              "B1-overflow-2", "B1-padding-char"])
def test_bad_base45_is_encoding(body: str, spec_trust: TrustList) -> None:
    assert reason("THP1:" + body, spec_trust) == "encoding"


# -- Z: compression ---------------------------------------------------------------------------


def test_Z2_uncompressed_cose_is_compression(spec_key: Any, spec_trust: TrustList) -> None:
    assert reason(build(spec_key, compress=False), spec_trust) == "compression"


def test_Z1_broken_compression_is_compression(spec_key: Any, spec_trust: TrustList) -> None:
    data = zlib.compress(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""])))
    assert reason("THP1:" + base45.b45encode(data[:-6]).decode(), spec_trust) == "compression"


def test_bytes_after_the_zlib_stream_are_compression(spec_trust: TrustList) -> None:
    text = ED25519_VECTOR + base45.b45encode(b"xx").decode()
    assert reason(text, spec_trust) == "compression"


def test_decompression_bomb_stops_at_4096_bytes(spec_trust: TrustList) -> None:
    bomb = zlib.compress(b"\x00" * 500_000, 9)  # 500 kB in under 1,200 characters
    text = "THP1:" + base45.b45encode(bomb).decode()
    assert len(text) <= 1200
    assert reason(text, spec_trust) == "compression"
    at_limit = "THP1:" + base45.b45encode(zlib.compress(b"\x00" * MAX_INFLATED, 9)).decode()
    assert reason(at_limit, spec_trust) == "structure"  # 4,096 bytes is allowed through


# -- CBO / CO: CBOR and COSE structure -------------------------------------------------------


def _wrap(cbor_bytes: bytes) -> str:
    return "THP1:" + str(base45.b45encode(zlib.compress(cbor_bytes)).decode())


@pytest.mark.parametrize("cbor_bytes", [
    b"\xff\xfe",  # not CBOR at all
    cbor2.dumps({"not": "cose"}),  # CBOR of the wrong shape
    cbor2.dumps([b"", {}, b""]),  # three items
    cbor2.dumps(cbor2.CBORTag(98, [b"", {}, b"", b""])),  # COSE_Sign (multi-signer) tag
    cbor2.dumps([b"\xa0", {}, b"", b""]) + b"\x00",  # trailing bytes
    b"\x81" * 3000,  # deeply nested arrays
    cbor2.dumps(["text", {}, b"", b""]),
])
def test_broken_cose_is_structure(cbor_bytes: bytes, spec_trust: TrustList) -> None:
    assert reason(_wrap(cbor_bytes), spec_trust) == "structure"


def test_untagged_cose_is_accepted(spec_key: Any, spec_trust: TrustList) -> None:
    assert verify(build(spec_key, tag=None), spec_trust, NOW).sub == "W0012345"


def test_CO19_kid_only_in_the_unprotected_header_is_structure(
        spec_key: Any, spec_trust: TrustList) -> None:
    """Valid in the EU suite; THP1 takes the kid from the protected header only."""
    text = build(spec_key, protected={1: -8}, unprotected={4: key_id(spec_key.public_key())})
    assert reason(text, spec_trust) == "structure"


def test_missing_alg_is_structure(spec_key: Any, spec_trust: TrustList) -> None:
    assert reason(build(spec_key, protected={4: key_id(spec_key.public_key())}),
                  spec_trust) == "structure"


@pytest.mark.parametrize("alg", [-37, -257, -35, 0, "EdDSA"])  # PS256, RS256, ES384, …
def test_unsupported_alg_is_structure(alg: Any, spec_key: Any, spec_trust: TrustList) -> None:
    text = build(spec_key, protected={1: alg, 4: key_id(spec_key.public_key())})
    assert reason(text, spec_trust) == "structure"


def test_unreadable_protected_header_is_structure(spec_key: Any, spec_trust: TrustList) -> None:
    assert reason(build(spec_key, protected_bytes=b"\xa2\x01"), spec_trust) == "structure"


def test_duplicate_keys_in_the_protected_header_are_structure(
        spec_key: Any, spec_trust: TrustList) -> None:
    kid = key_id(spec_key.public_key())
    doubled = b"\xa3\x01\x27\x04\x48" + kid + b"\x01\x26"  # alg -8, kid, alg -7 again
    assert reason(build(spec_key, protected_bytes=doubled), spec_trust) == "structure"


def test_CO21_a_wrong_unprotected_kid_is_ignored(spec_key: Any, spec_trust: TrustList) -> None:
    text = build(spec_key, unprotected={4: b"\x00" * 8})
    assert verify(text, spec_trust, NOW).sub == "W0012345"


def test_CO20_the_same_kid_in_both_headers_is_valid(spec_key: Any, spec_trust: TrustList
                                                    ) -> None:
    text = build(spec_key, unprotected={4: key_id(spec_key.public_key())})
    assert verify(text, spec_trust, NOW).sub == "W0012345"


def test_CO23_no_protected_kid_and_a_wrong_unprotected_one_is_structure(
        spec_key: Any, spec_trust: TrustList) -> None:
    assert reason(build(spec_key, protected={1: -8}, unprotected={4: b"\x00" * 8}),
                  spec_trust) == "structure"


def test_CO1_CO2_rsa_signed_codes_are_structure(spec_key: Any, spec_trust: TrustList) -> None:
    """The EU accepts RSA-PSS (alg -37); THP1 accepts EdDSA and ES256 only."""
    text = build(spec_key, protected={1: -37, 4: key_id(spec_key.public_key())},
                 signature=b"\x01" * 256)
    assert reason(text, spec_trust) == "structure"


# -- CO: keys, signatures ---------------------------------------------------------------------


def test_CO4_a_kid_not_in_the_trust_list_is_unknown_key(spec_trust: TrustList) -> None:
    stranger = ed25519.Ed25519PrivateKey.generate()
    assert reason(build(stranger), spec_trust) == "unknown-key"


def test_key_outside_its_validity_is_unknown_key(spec_key: Any) -> None:
    entry = trust_entry(spec_key.public_key(), "500118", "2021-03-01T00:00:00+08:00",
                        "2021-12-31T23:59:59+08:00")
    trust = TrustList.from_document({"keys": [entry]})
    assert reason(build(spec_key), trust) == "unknown-key"  # NOW is in February


def test_CO5_a_cryptographically_invalid_signature_is_signature(
        spec_key: Any, spec_trust: TrustList) -> None:
    assert reason(build(spec_key, signature=b"\x00" * 64), spec_trust) == "signature"


def test_a_payload_changed_after_signing_is_signature(spec_key: Any, spec_trust: TrustList
                                                      ) -> None:
    good = build(spec_key)
    cose = cbor2.loads(zlib.decompress(base45.b45decode(good[5:])))
    red = {**CLAIMS, -4: 2}
    items = list(cose.value)
    items[2] = cbor2.dumps(red)
    assert reason(_wrap(cbor2.dumps(cbor2.CBORTag(18, items))), spec_trust) == "signature"


def test_alg_and_key_type_must_agree(spec_key: Any, spec_trust: TrustList) -> None:
    text = build(spec_key, protected={1: -7, 4: key_id(spec_key.public_key())})
    assert reason(text, spec_trust) == "signature"


def test_several_keys_may_share_a_kid(spec_key: Any) -> None:
    impostor = ed25519.Ed25519PrivateKey.generate()
    entry = trust_entry(impostor.public_key(), "x")
    entry["kid"] = trust_entry(spec_key.public_key(), "500118")["kid"]  # kid collision
    good = trust_entry(spec_key.public_key(), "500118")
    # the impostor entry fails its own kid check and is ignored; the real key verifies
    trust = TrustList.from_document({"keys": [entry, good]})
    assert len(trust.keys) == 1 and trust.warnings
    assert verify(build(spec_key), trust, NOW).sub == "W0012345"


def test_es256_signature_must_be_64_raw_bytes(spec_trust: TrustList) -> None:
    text = build(ec.generate_private_key(ec.SECP256R1()), signature=b"\x01" * 70)
    assert reason(text, spec_trust) == "unknown-key"  # a key we do not trust at all


# -- DGC-like: claims -------------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    {1: None}, {4: None}, {6: None}, {-1: None}, {-2: None}, {-4: None},  # required, missing
    {1: 500118}, {1: ""}, {1: "x" * 65},
    {4: "1612220400"}, {4: 1.5}, {4: True}, {4: -1},
    {6: [1]}, {-1: 2}, {-1: "1"},
    {-2: ""}, {-2: "W" * 33}, {-2: b"W001"},
    {-3: 7}, {-3: "张" * 33},
    {-4: 3}, {-4: -1}, {-4: "green"}, {-4: False},
    {-5: "2021-01-29"}, {-5: -3},
    {-6: [18657]}, {-6: [18657, 4]}, {-6: ["2021-01-30", 1]}, {-6: {18657: 1}},
    {-7: 12}, {-7: "x" * 65},
])
def test_DGC_wrong_claims_are_claims(change: dict[int, Any], spec_key: Any,
                                     spec_trust: TrustList) -> None:
    claims = {k: v for k, v in {**CLAIMS, **change}.items() if v is not None}
    assert reason(build(spec_key, claims), spec_trust) == "claims"


@pytest.mark.parametrize("payload", [
    pytest.param(b"\xff", id="CBO1-not-cbor"),
    pytest.param(cbor2.dumps(cbor2.dumps(CLAIMS)), id="CBO1-claims-wrapped-in-a-bstr"),
    pytest.param(cbor2.dumps([1, 2]), id="CBO1-an-array"),
    pytest.param(cbor2.dumps("claims"), id="CBO1-text"),
    pytest.param(cbor2.dumps({"ver": "1.0.0", "nam": {"fn": "x"}}), id="CBO2-not-our-cwt"),
    pytest.param(b"\xa2\x01\x61x\x01\x61y", id="duplicate-iss-key"),
])
def test_unreadable_payload_is_claims(payload: bytes, spec_key: Any, spec_trust: TrustList
                                      ) -> None:
    assert reason(build(spec_key, raw_payload=payload), spec_trust) == "claims"


def test_unknown_claim_keys_are_ignored(spec_key: Any, spec_trust: TrustList) -> None:
    claims: dict[Any, Any] = {**CLAIMS, -99: "future", "x": [1, 2]}
    assert verify(build(spec_key, claims), spec_trust, NOW).sub == "W0012345"


# -- CO: time and revocation ------------------------------------------------------------------


def test_CO16_clock_before_iat_is_not_yet_valid(spec_trust: TrustList) -> None:
    assert reason(ED25519_VECTOR, spec_trust, now=1612134000 - 301) == "not-yet-valid"
    assert verify(ED25519_VECTOR, spec_trust, 1612134000 - 299).sub  # within the 300 s skew


def test_CO17_clock_after_exp_is_expired(spec_trust: TrustList) -> None:
    assert reason(ED25519_VECTOR, spec_trust, now=1612220400 + 301) == "expired"
    assert verify(ED25519_VECTOR, spec_trust, 1612220400 + 299).sub


def test_skew_is_configurable(spec_trust: TrustList) -> None:
    with pytest.raises(CodeError, match="expired"):
        verify(ED25519_VECTOR, spec_trust, 1612220400 + 10, skew=0)


def test_datetime_now_is_accepted(spec_trust: TrustList) -> None:
    now = dt.datetime.fromtimestamp(NOW, dt.UTC)
    assert verify(ED25519_VECTOR, spec_trust, now).sub == "W0012345"


def test_revocation_voids_codes_issued_before_it(spec_key: Any) -> None:
    entry = trust_entry(spec_key.public_key(), "500118")
    revoked = TrustList.from_document(
        {"keys": [entry], "revocations": [{"sub": "W0012345", "before": 1612134001}]})
    assert reason(ED25519_VECTOR, revoked) == "revoked"
    reissued = TrustList.from_document(
        {"keys": [entry], "revocations": [{"sub": "W0012345", "before": 1612134000}]})
    assert verify(ED25519_VECTOR, reissued, NOW).sub == "W0012345"  # iat == before: valid


def test_steps_run_in_the_spec_order(spec_key: Any) -> None:
    """An expired code from an unknown key is unknown-key (step 5), not expired (step 9)."""
    stranger = ed25519.Ed25519PrivateKey.generate()
    assert reason(build(stranger), TrustList(), now=NOW + 10**6) == "unknown-key"
    trust = TrustList.from_document({"keys": [trust_entry(spec_key.public_key(), "x")]})
    bad_claims = {**CLAIMS, -4: 9, 4: 0}  # bad color and long expired: claims first
    assert reason(build(spec_key, bad_claims), trust) == "claims"


def test_error_message_carries_the_reason_and_detail(spec_trust: TrustList) -> None:
    with pytest.raises(CodeError) as info:
        verify("nope", spec_trust, NOW)
    assert str(info.value).startswith("format")
