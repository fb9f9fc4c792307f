"""The trust list (issuer keys) and revocations a station verifies codes against.

Shape (health-code.md): `{"keys": [{kid, alg, spki, issuer, not_before, not_after}],
"revocations": [{sub, before}]}`. A key whose `spki` does not hash to its `kid` is ignored
with a warning; a key outside `not_before`/`not_after` is not trusted at that instant.

On a station the list travels inside the town's bundle (station/bundle.py), which is kept as
JSON on disk and swapped in atomically with `atomic_write` (temp file, fsync, rename, fsync of
the directory): a power cut leaves the old file or the new one, never half of each.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import load_der_public_key

from station.errors import Localized, StationError

log = logging.getLogger(__name__)
ALGS = ("EdDSA", "ES256")


class TrustError(StationError):
    """A trust list is not valid; the message names the file and the field."""


@dataclass(frozen=True)
class TrustedKey:
    kid: bytes
    alg: str
    public_key: Any
    issuer: str
    not_before: float | None
    not_after: float | None

    def valid_at(self, instant: float) -> bool:
        return ((self.not_before is None or self.not_before <= instant)
                and (self.not_after is None or instant <= self.not_after))


@dataclass(frozen=True)
class TrustList:
    keys: tuple[TrustedKey, ...] = ()
    revocations: Mapping[str, int] = field(default_factory=dict)
    document: Mapping[str, Any] = field(default_factory=lambda: {"keys": [], "revocations": []})
    warnings: tuple[str, ...] = ()

    def keys_for(self, kid: bytes, instant: float) -> list[TrustedKey]:
        return [key for key in self.keys if key.kid == kid and key.valid_at(instant)]

    def revoked_before(self, subject: str) -> int | None:
        return self.revocations.get(subject)

    @classmethod
    def from_document(cls, document: Any, source: str = "trust list") -> TrustList:
        """Parse the JSON shape; raise TrustError naming `source` and the field on bad input."""
        if not isinstance(document, Mapping):
            raise TrustError(key="trust.not_object", where=source)
        unknown = set(document) - {"keys", "revocations"}
        if unknown:
            raise TrustError(key="doc.unknown_field", where=source, name=repr(sorted(unknown)[0]))
        raw_keys = document.get("keys", [])
        raw_revocations = document.get("revocations", [])
        if not isinstance(raw_keys, list):
            raise TrustError(key="doc.field_must_be_list", where=source, name="keys")
        if not isinstance(raw_revocations, list):
            raise TrustError(key="doc.field_must_be_list", where=source, name="revocations")
        keys, warnings = [], []
        for index, entry in enumerate(raw_keys):
            where = f"{source}: keys[{index}]"
            key = _parse_key(entry, where)
            if key is None:
                given = base64.b64decode(entry["kid"])  # _parse_key checked it is base64
                warning = Localized("trust.kid_mismatch", where=where, kid_hex=given.hex(),
                                    kid=entry["kid"])
                log.warning("%s", warning)
                warnings.append(warning)
            else:
                keys.append(key)
        revocations: dict[str, int] = {}
        for index, entry in enumerate(raw_revocations):
            where = f"{source}: revocations[{index}]"
            if not isinstance(entry, Mapping):
                raise TrustError(key="trust.revocation_shape", where=where)
            sub, before = entry.get("sub"), entry.get("before")
            if not isinstance(sub, str) or not 1 <= len(sub) <= 32:
                raise TrustError(key="trust.sub", where=f"{where}.sub")
            if type(before) is not int or before < 0:
                raise TrustError(key="trust.before", where=f"{where}.before")
            revocations[sub] = max(before, revocations.get(sub, 0))
        return cls(tuple(keys), revocations, dict(document), tuple(warnings))


def _instant(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TrustError(key="doc.time_with_offset", where=where)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise TrustError(key="doc.not_time", where=where, value=repr(value)) from None
    if parsed.tzinfo is None:
        raise TrustError(key="doc.no_offset", where=where, value=repr(value))
    return parsed.timestamp()


def _parse_key(entry: Any, where: str) -> TrustedKey | None:
    if not isinstance(entry, Mapping):
        raise TrustError(key="doc.must_be_object", where=where)
    for name in ("kid", "alg", "spki"):
        if not isinstance(entry.get(name), str):
            raise TrustError(key="doc.missing_text", where=f"{where}.{name}")
    if entry["alg"] not in ALGS:
        raise TrustError(key="trust.alg", where=f"{where}.alg", value=repr(entry["alg"]),
                         algs=", ".join(ALGS))
    try:
        kid = base64.b64decode(entry["kid"], validate=True)
    except binascii.Error:
        raise TrustError(key="doc.not_base64", where=f"{where}.kid") from None
    try:
        spki = base64.b64decode(entry["spki"], validate=True)
        public_key = load_der_public_key(spki)
    except (binascii.Error, ValueError, TypeError):
        raise TrustError(key="trust.spki", where=f"{where}.spki") from None
    issuer = entry.get("issuer", "")
    if not isinstance(issuer, str):
        raise TrustError(key="doc.must_be_text", where=f"{where}.issuer")
    not_before = _instant(entry.get("not_before"), f"{where}.not_before")
    not_after = _instant(entry.get("not_after"), f"{where}.not_after")
    if hashlib.sha256(spki).digest()[:8] != kid:
        return None
    return TrustedKey(kid, entry["alg"], public_key, issuer, not_before, not_after)


def trust_entry(public_key: Any, issuer: str, not_before: str | None = None,
                not_after: str | None = None) -> dict[str, Any]:
    """The trust-list entry for a public key (what `town-server keys new` prints)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    spki = public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    entry: dict[str, Any] = {
        "kid": base64.b64encode(hashlib.sha256(spki).digest()[:8]).decode(),
        "alg": "EdDSA" if isinstance(public_key, ed25519.Ed25519PublicKey) else "ES256",
        "spki": base64.b64encode(spki).decode(),
        "issuer": issuer,
    }
    if not_before is not None:
        entry["not_before"] = not_before
    if not_after is not None:
        entry["not_after"] = not_after
    return entry


def load_trust_file(path: Path) -> TrustList:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TrustError(key="file.cannot_read", path=path, error=error) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TrustError(key="file.not_json", path=path, error=str(error)) from None
    return TrustList.from_document(document, str(path))
