"""The signed bundle of sync.md v1.1: bundle keys, the document, the envelope.

Envelope: `{"payload": b64(document JSON bytes), "alg": "EdDSA", "kid": b64(8 bytes),
"signature": b64(Ed25519 over the decoded payload bytes)}`; base64 is RFC 4648 §4 with `=`
padding; kid is the first 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo.

The document: `serial` (a positive integer below 2^53, allocated by the town's database),
`version`, `issued_at`, `expires` (at most 30 days after `issued_at`), `trust`, `rules`
(nested like config.yaml's `policy:`) and, optionally, `bundle_keys` (base64 SPKI).

Key files: `bundle-<kid hex>.key` (PKCS#8 PEM, 0600) and `.pub` (SPKI PEM).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from station.codes import key_id
from station.errors import StationError
from station.timeparse import aware_instant

DEFAULT_LIFETIME = dt.timedelta(days=7)
MAX_LIFETIME = dt.timedelta(days=30)
MAX_SERIAL = 2**53 - 1
REQUIRED = ("serial", "version", "issued_at", "expires", "trust", "rules")


class SigningError(StationError):
    """A bundle key or a bundle that cannot be used; the message names the file and field."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise SigningError(f"{where}: must be base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SigningError(f"{where}: not RFC 4648 base64 (standard alphabet, = padding)"
                           ) from None


def spki_der(public_key: ed25519.Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class KeyId:
    """A key id in both spellings: base64 in JSON, hex for people (file names, messages)."""

    raw: bytes

    @property
    def b64(self) -> str:
        return b64(self.raw)

    @property
    def hex(self) -> str:
        return self.raw.hex()

    @classmethod
    def of(cls, public_key: Any) -> KeyId:
        return cls(key_id(public_key))

    @classmethod
    def parse(cls, text: str) -> KeyId:
        """A kid as people type it: 16 hex digits or the base64 of 8 bytes."""
        cleaned = text.strip()
        if len(cleaned) == 16:
            try:
                return cls(bytes.fromhex(cleaned))
            except ValueError:
                pass
        try:
            raw = base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 8:
            raise SigningError(f"{text!r}: a key id is 16 hex digits or base64 of 8 bytes")
        return cls(raw)


def new_bundle_key(directory: Path) -> tuple[ed25519.Ed25519PrivateKey, Path, Path]:
    """A bundle key pair written to `directory` (made if missing): private 0600, created so."""
    key = ed25519.Ed25519PrivateKey.generate()
    kid = KeyId.of(key.public_key())
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / f"bundle-{kid.hex}.key"
    public_path = directory / f"bundle-{kid.hex}.pub"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(pem)
    public_path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key, private_path, public_path


def load_bundle_key(path: Path) -> ed25519.Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SigningError(f"{path}: cannot read the bundle key: {error.strerror or error}"
                           ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SigningError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningError(f"{path}: a bundle key is an Ed25519 key (`town-server keys new "
                           "--purpose bundle`)")
    return key


def load_bundle_public_key(path: Path) -> ed25519.Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SigningError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise SigningError(f"{path}: not a PEM public key") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningError(f"{path}: a bundle key is an Ed25519 key")
    return key


def nest_rules(rules: dict[str, Any]) -> dict[str, Any]:
    """Rules stored by dotted key (`returning.followup_grace_days`) nested as config.yaml's
    `policy:` section (`{"returning": {"followup_grace_days": 2}}`)."""
    nested: dict[str, Any] = {}
    for dotted, value in sorted(rules.items()):
        parts = dotted.split(".")
        place = nested
        for part in parts[:-1]:
            child = place.get(part)
            if not isinstance(child, dict):
                child = place[part] = {}
            place = child
        if isinstance(value, dict) and isinstance(place.get(parts[-1]), dict):
            place[parts[-1]].update(value)
        else:
            place[parts[-1]] = value
    return nested


def build_document(serial: int, issued_at: dt.datetime, lifetime: dt.timedelta,
                   trust: dict[str, Any], rules: dict[str, Any],
                   bundle_keys: list[str] | None) -> dict[str, Any]:
    issued = issued_at.isoformat(timespec="seconds")
    document: dict[str, Any] = {
        "serial": serial, "version": f"{issued}#{serial}", "issued_at": issued,
        "expires": (issued_at + lifetime).isoformat(timespec="seconds"),
        "trust": trust, "rules": nest_rules(rules)}
    if bundle_keys is not None:
        document["bundle_keys"] = bundle_keys
    check_document(document, "bundle")
    return document


def document_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _time(document: dict[str, Any], name: str, source: str) -> dt.datetime:
    parsed = aware_instant(document.get(name))
    if parsed is None:
        raise SigningError(f"{source}: {name}: must be an ISO 8601 time with UTC offset")
    return parsed


def check_document(document: Any, source: str) -> dict[str, Any]:
    """The document's shape per sync.md (the station checks the same); SigningError if not."""
    if not isinstance(document, dict):
        raise SigningError(f"{source}: the bundle document must be a JSON object")
    for name in REQUIRED:
        if name not in document:
            raise SigningError(f"{source}: {name}: missing")
    serial = document["serial"]
    if type(serial) is not int or not 1 <= serial <= MAX_SERIAL:
        raise SigningError(f"{source}: serial: must be a whole number from 1 to 2^53-1")
    if not isinstance(document["version"], str) or not document["version"]:
        raise SigningError(f"{source}: version: must be text")
    issued, expires = _time(document, "issued_at", source), _time(document, "expires", source)
    if not issued < expires <= issued + MAX_LIFETIME:
        raise SigningError(f"{source}: expires: must be after issued_at and at most 30 days "
                           "after it")
    if not isinstance(document["trust"], dict):
        raise SigningError(f"{source}: trust: must be an object")
    if not isinstance(document["rules"], dict):
        raise SigningError(f"{source}: rules: must be an object")
    keys = document.get("bundle_keys")
    if keys is not None and (not isinstance(keys, list) or not keys):
        raise SigningError(f"{source}: bundle_keys: must be a non-empty list of base64 SPKI")
    for index, spki in enumerate(keys or []):
        unb64(spki, f"{source}: bundle_keys[{index}]")
    return document


def sign(document: dict[str, Any], key: ed25519.Ed25519PrivateKey) -> dict[str, str]:
    """The envelope stations receive."""
    payload = document_bytes(check_document(document, "bundle"))
    return {"payload": b64(payload), "alg": "EdDSA", "kid": KeyId.of(key.public_key()).b64,
            "signature": b64(key.sign(payload))}


@dataclass(frozen=True)
class OpenedBundle:
    envelope: dict[str, str]
    document: dict[str, Any]
    kid: KeyId

    @property
    def serial(self) -> int:
        return int(self.document["serial"])


def open_envelope(envelope: Any, public_key: ed25519.Ed25519PublicKey,
                  source: str) -> OpenedBundle:
    """Verify a signed bundle with `public_key`, then parse its document (in that order)."""
    if not isinstance(envelope, dict) or set(envelope) != {"payload", "alg", "kid",
                                                           "signature"}:
        raise SigningError(f"{source}: a signed bundle has exactly payload, alg, kid and "
                           "signature")
    if envelope["alg"] != "EdDSA":
        raise SigningError(f"{source}: alg: must be EdDSA")
    kid = KeyId(unb64(envelope["kid"], f"{source}: kid"))
    if kid != KeyId.of(public_key):
        raise SigningError(f"{source}: kid: signed by key {kid.hex}, not by "
                           f"{KeyId.of(public_key).hex}")
    payload = unb64(envelope["payload"], f"{source}: payload")
    try:
        public_key.verify(unb64(envelope["signature"], f"{source}: signature"), payload)
    except InvalidSignature:
        raise SigningError(f"{source}: signature: does not verify") from None
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SigningError(f"{source}: payload: not UTF-8 JSON") from None
    check_document(document, source)
    return OpenedBundle(dict(envelope), document, kid)


def read_payload(envelope: dict[str, Any]) -> dict[str, Any]:
    """The document inside an envelope this town stored (already verified when stored)."""
    document: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return document
