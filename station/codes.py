"""THP1 health codes: offline verification and issuing (../shared/spec/health-code.md).

    QR text = "THP1:" + Base45( zlib( COSE_Sign1( CBOR claims ) ) )

`verify(text, trust, now)` runs the spec's ten steps in order and returns the claims as a
frozen `HealthClaims`, or raises `CodeError` with exactly one reason code. It raises nothing
else, whatever it is given. `issue(signing_key, claims)` makes a code (the town's side, and
tests and demos); with the spec's seed key it reproduces the spec's test vector byte for byte.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from station.errors import Localized, StationError
from station.trust import TrustList

PREFIX = "THP1:"
MAX_TEXT = 1200
MAX_INFLATED = 4096
ALG_EDDSA = -8
ALG_ES256 = -7
COSE_SIGN1_TAG = 18
EPOCH_DAY_ZERO = dt.date(1970, 1, 1)
MAX_LIFETIME_S = 7 * 24 * 3600  # health-code.md: the verifier's default maximum lifetime

Reason = Literal[
    "format", "encoding", "compression", "structure", "unknown-key", "signature", "claims",
    "not-yet-valid", "expired", "revoked",
]
REASONS: tuple[Reason, ...] = (
    "format", "encoding", "compression", "structure", "unknown-key", "signature", "claims",
    "not-yet-valid", "expired", "revoked",
)


class CodeError(StationError):
    """A code failed verification; `reason` is one of the spec's reason codes."""

    def __init__(self, reason: Reason, detail: str = "", *,
                 revocation: tuple[str, int] | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Reason = reason
        self.detail = detail
        self.revocation = revocation  # (subject, revoked-before epoch seconds) for `revoked`


class Color(IntEnum):
    GREEN = 0
    YELLOW = 1
    RED = 2

    @property
    def word(self) -> str:
        return self.name.lower()


class Origin(IntEnum):
    OUTSIDE_MUNICIPALITY = 1
    RISK_DISTRICT = 2
    KEY_POPULATION = 3

    @property
    def word(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def from_word(cls, word: str) -> Origin:
        try:
            return cls[word.upper().replace("-", "_")]
        except KeyError:
            known = ", ".join(o.word for o in cls)
            raise ValueError(Localized("codes.unknown_origin", value=repr(word), known=known)
                             ) from None


def epoch_day(day: dt.date) -> int:
    return (day - EPOCH_DAY_ZERO).days


def from_epoch_day(days: int) -> dt.date:
    return EPOCH_DAY_ZERO + dt.timedelta(days=days)


@dataclass(frozen=True)
class Returning:
    date: dt.date
    origin: Origin


@dataclass(frozen=True)
class HealthClaims:
    """The claims of a verified code. Times are epoch seconds; dates are CST calendar dates."""

    iss: str
    exp: int
    iat: int
    sub: str
    color: Color
    name: str | None = None
    nat: dt.date | None = None
    ret: Returning | None = None
    org: str | None = None
    v: int = 1

    def to_cbor_map(self) -> dict[int, Any]:
        """The claims map in the issuers' key order (1, 4, 6, -1 … -7), optional keys omitted."""
        claims: dict[int, Any] = {1: self.iss, 4: self.exp, 6: self.iat, -1: self.v,
                                  -2: self.sub}
        if self.name is not None:
            claims[-3] = self.name
        claims[-4] = int(self.color)
        if self.nat is not None:
            claims[-5] = epoch_day(self.nat)
        if self.ret is not None:
            claims[-6] = [epoch_day(self.ret.date), int(self.ret.origin)]
        if self.org is not None:
            claims[-7] = self.org
        return claims


# -- parsing helpers ------------------------------------------------------------------------


def _cbor(data: bytes, max_depth: int) -> Any:
    """One CBOR item that spans all of `data`; duplicate map keys and trailing bytes rejected."""
    stream = io.BytesIO(data)
    item = cbor2.CBORDecoder(stream, max_depth=max_depth, allow_duplicate_keys=False).decode()
    if stream.tell() != len(data):
        raise ValueError("trailing bytes after the CBOR item")
    return item


def _is_int(value: Any) -> bool:
    return type(value) is int


def _text(claims: Mapping[Any, Any], key: int, name: str, low: int, high: int,
          required: bool) -> str | None:
    if key not in claims:
        if required:
            raise CodeError("claims", f"{name} ({key}) is missing")
        return None
    value = claims[key]
    if type(value) is not str or not low <= len(value) <= high:
        raise CodeError("claims", f"{name} ({key}) must be text of {low}–{high} characters")
    return value


def _integer(claims: Mapping[Any, Any], key: int, name: str, low: int, high: int,
             required: bool) -> int | None:
    if key not in claims:
        if required:
            raise CodeError("claims", f"{name} ({key}) is missing")
        return None
    value = claims[key]
    if not _is_int(value) or not low <= value <= high:
        raise CodeError("claims", f"{name} ({key}) must be an integer in {low}…{high}")
    return int(value)


MAX_EPOCH_SECONDS = 2**40
MAX_EPOCH_DAY = 2_932_896  # 9999-12-31


def parse_claims(claims: Any) -> HealthClaims:
    if not isinstance(claims, Mapping):
        raise CodeError("claims", "the payload is not a CBOR map")
    iss = _text(claims, 1, "iss", 1, 64, True)
    exp = _integer(claims, 4, "exp", 0, MAX_EPOCH_SECONDS, True)
    iat = _integer(claims, 6, "iat", 0, MAX_EPOCH_SECONDS, True)
    version = _integer(claims, -1, "v", 1, 1, True)
    sub = _text(claims, -2, "sub", 1, 32, True)
    name = _text(claims, -3, "name", 0, 32, False)
    color = _integer(claims, -4, "color", 0, 2, True)
    nat = _integer(claims, -5, "nat", 0, MAX_EPOCH_DAY, False)
    org = _text(claims, -7, "org", 0, 64, False)
    ret = None
    if -6 in claims:
        value = claims[-6]
        if (not isinstance(value, list) or len(value) != 2 or not _is_int(value[0])
                or not 0 <= value[0] <= MAX_EPOCH_DAY or not _is_int(value[1])
                or value[1] not in (1, 2, 3)):
            raise CodeError("claims", "ret (-6) must be [epoch day, origin 1|2|3]")
        ret = Returning(from_epoch_day(value[0]), Origin(value[1]))
    assert iss is not None and exp is not None and iat is not None and sub is not None
    assert color is not None and version is not None
    return HealthClaims(
        iss=iss, exp=exp, iat=iat, v=version, sub=sub, name=name, color=Color(color),
        nat=None if nat is None else from_epoch_day(nat), ret=ret, org=org,
    )


def _signature_ok(key: Any, alg: int, signed: bytes, signature: bytes) -> bool:
    try:
        if alg == ALG_EDDSA and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signed)
            return True
        if (alg == ALG_ES256 and isinstance(key, ec.EllipticCurvePublicKey)
                and isinstance(key.curve, ec.SECP256R1) and len(signature) == 64):
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                       int.from_bytes(signature[32:], "big"))
            key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


# -- verification ---------------------------------------------------------------------------


def verify(text: Any, trust: TrustList, now: dt.datetime | float, *, skew: int = 300,
           clock_synced: bool = True, max_lifetime_s: float = MAX_LIFETIME_S) -> HealthClaims:
    """The claims of a genuine, current, unrevoked code, or CodeError(reason). See the spec.

    With `clock_synced=False` the caller passes as `now` the later of its clock and its
    clock floor (a lower bound of the true time, station.clock.verification_time), and step 8
    (`not-yet-valid`) is skipped: a code issued after that lower bound may well be genuine.
    """
    try:
        return _verify(text, trust, now, skew, clock_synced, max_lifetime_s)
    except CodeError:
        raise
    except Exception as error:  # the contract: nothing but CodeError ever leaves verify()
        raise CodeError("structure", f"unexpected {type(error).__name__}") from None


def _verify(text: Any, trust: TrustList, now: dt.datetime | float, skew: int,
            clock_synced: bool, max_lifetime_s: float) -> HealthClaims:
    instant = now.timestamp() if isinstance(now, dt.datetime) else float(now)
    # 1 format
    if not isinstance(text, str) or len(text) > MAX_TEXT or not text.startswith(PREFIX):
        raise CodeError("format", "not a THP1 code" if isinstance(text, str) else "not text")
    # 2 encoding
    try:
        compressed = base45.b45decode(text[len(PREFIX):])
    except (ValueError, TypeError):
        raise CodeError("encoding", "not valid Base45") from None
    # 3 compression
    try:
        inflater = zlib.decompressobj()
        cose_bytes = inflater.decompress(compressed, MAX_INFLATED + 1)
    except zlib.error:
        raise CodeError("compression", "not a zlib stream") from None
    if len(cose_bytes) > MAX_INFLATED:
        raise CodeError("compression", f"inflates past {MAX_INFLATED} bytes")
    if not inflater.eof or inflater.unused_data:
        raise CodeError("compression", "truncated zlib stream, or bytes after it")
    # 4 structure
    try:
        cose = _cbor(cose_bytes, max_depth=16)
    except Exception:
        raise CodeError("structure", "not CBOR") from None
    if isinstance(cose, cbor2.CBORTag):
        if cose.tag != COSE_SIGN1_TAG:
            raise CodeError("structure", f"CBOR tag {cose.tag}, not COSE_Sign1 (18)")
        cose = cose.value
    if not isinstance(cose, list | tuple) or len(cose) != 4:
        raise CodeError("structure", "not a COSE_Sign1 array of four items")
    protected_bytes, unprotected, payload, signature = cose
    if not (isinstance(protected_bytes, bytes) and isinstance(unprotected, Mapping)
            and isinstance(payload, bytes) and isinstance(signature, bytes)):
        raise CodeError("structure", "COSE_Sign1 items have the wrong types")
    try:
        protected = _cbor(protected_bytes, max_depth=4) if protected_bytes else {}
    except Exception:
        raise CodeError("structure", "protected header is not readable CBOR") from None
    if not isinstance(protected, Mapping):
        raise CodeError("structure", "protected header is not a map")
    alg, kid = protected.get(1), protected.get(4)
    if alg is None or kid is None:
        raise CodeError("structure", "alg or kid missing from the protected header")
    if not _is_int(alg) or alg not in (ALG_EDDSA, ALG_ES256):
        raise CodeError("structure", f"unsupported alg {alg!r}")
    if not isinstance(kid, bytes):
        raise CodeError("structure", "kid is not a byte string")
    # 5 unknown-key
    candidates = trust.keys_for(kid, instant)
    if not candidates:
        raise CodeError("unknown-key", f"no trusted key with kid {kid.hex()} is valid now")
    # 6 signature
    signed = cbor2.dumps(["Signature1", protected_bytes, b"", payload])
    verifier = next((key for key in candidates
                     if _signature_ok(key.public_key, alg, signed, signature)), None)
    if verifier is None:
        raise CodeError("signature", "no trusted key verifies the signature")
    # 7 claims
    try:
        raw_claims = _cbor(payload, max_depth=8)
    except Exception:
        raise CodeError("claims", "payload is not readable CBOR") from None
    claims = parse_claims(raw_claims)
    if claims.exp <= claims.iat:
        raise CodeError("claims", "exp is not after iat")
    if claims.exp - claims.iat > max_lifetime_s:
        raise CodeError("claims", f"valid for {(claims.exp - claims.iat) / 3600:.0f} h, over "
                                  f"the maximum {max_lifetime_s / 3600:.0f} h")
    if verifier.issuer and claims.iss != verifier.issuer:
        raise CodeError("claims", f"iss {claims.iss!r} is not the issuer of the key that "
                                  f"signed it ({verifier.issuer!r})")
    # 8–10 validity
    if clock_synced and claims.iat > instant + skew:
        raise CodeError("not-yet-valid", "issued in the future")
    if claims.exp < instant - skew:
        raise CodeError("expired", "past its expiry")
    before = trust.revoked_before(claims.sub)
    if before is not None and before > claims.iat:
        from station.timeparse import cst_text

        raise CodeError("revoked", f"codes for {claims.sub} issued before "
                                   f"{cst_text(before) or before} are revoked",
                        revocation=(claims.sub, before))
    return claims


# -- issuing --------------------------------------------------------------------------------

SigningKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def key_id(public_key: Any) -> bytes:
    """kid: the first 8 bytes of SHA-256 over the key's DER SubjectPublicKeyInfo."""
    spki = public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()[:8]


def issue(signing_key: SigningKey, claims: HealthClaims) -> str:
    """Sign `claims` and return the THP1 QR text (COSE_Sign1 with tag 18, zlib level 9)."""
    if isinstance(signing_key, ed25519.Ed25519PrivateKey):
        alg = ALG_EDDSA
    elif isinstance(signing_key, ec.EllipticCurvePrivateKey) and isinstance(
            signing_key.curve, ec.SECP256R1):
        alg = ALG_ES256
    else:
        raise StationError("issuer keys are Ed25519 or ECDSA P-256")
    protected = cbor2.dumps({1: alg, 4: key_id(signing_key.public_key())})
    payload = cbor2.dumps(claims.to_cbor_map())
    signed = cbor2.dumps(["Signature1", protected, b"", payload])
    if isinstance(signing_key, ed25519.Ed25519PrivateKey):
        signature = signing_key.sign(signed)
    else:
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(signing_key.sign(signed, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    cose = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    text = PREFIX + str(base45.b45encode(zlib.compress(cose, 9)).decode("ascii"))
    if len(text) > MAX_TEXT:
        raise StationError(f"the code would be {len(text)} characters, over {MAX_TEXT}")
    return text
