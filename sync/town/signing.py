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
from sync.town import texts

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
        raise SigningError(texts.cli("sign-not-base64-text", where=where))
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SigningError(texts.cli("sign-not-base64", where=where)) from None


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
            raise SigningError(texts.cli("sign-kid-form", value=repr(text)))
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
        raise SigningError(texts.cli("sign-cannot-read-key", path=path, error=error)) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SigningError(texts.cli("sign-not-private-pem", path=path)) from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningError(texts.cli("sign-not-ed25519-new", path=path))
    return key


def load_bundle_public_key(path: Path) -> ed25519.Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SigningError(texts.cli("sign-cannot-read", path=path, error=error)) from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise SigningError(texts.cli("sign-not-public-pem", path=path)) from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningError(texts.cli("sign-not-ed25519", path=path))
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
        raise SigningError(texts.cli("sign-time", source=source, name=name))
    return parsed


def check_document(document: Any, source: str) -> dict[str, Any]:
    """The document's shape per sync.md (the station checks the same); SigningError if not."""
    if not isinstance(document, dict):
        raise SigningError(texts.cli("sign-not-object", source=source))
    for name in REQUIRED:
        if name not in document:
            raise SigningError(texts.cli("sign-missing", source=source, name=name))
    serial = document["serial"]
    if type(serial) is not int or not 1 <= serial <= MAX_SERIAL:
        raise SigningError(texts.cli("sign-serial", source=source))
    if not isinstance(document["version"], str) or not document["version"]:
        raise SigningError(texts.cli("sign-version", source=source))
    issued, expires = _time(document, "issued_at", source), _time(document, "expires", source)
    if not issued < expires <= issued + MAX_LIFETIME:
        raise SigningError(texts.cli("sign-expires", source=source))
    if not isinstance(document["trust"], dict):
        raise SigningError(texts.cli("sign-field-object", source=source, name="trust"))
    if not isinstance(document["rules"], dict):
        raise SigningError(texts.cli("sign-field-object", source=source, name="rules"))
    keys = document.get("bundle_keys")
    if keys is not None and (not isinstance(keys, list) or not keys):
        raise SigningError(texts.cli("sign-bundle-keys", source=source))
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
        raise SigningError(texts.cli("sign-envelope", source=source))
    if envelope["alg"] != "EdDSA":
        raise SigningError(texts.cli("sign-alg", source=source))
    kid = KeyId(unb64(envelope["kid"], f"{source}: kid"))
    if kid != KeyId.of(public_key):
        raise SigningError(texts.cli("sign-kid", source=source, kid_hex=kid.hex,
                                             expected=KeyId.of(public_key).hex))
    payload = unb64(envelope["payload"], f"{source}: payload")
    try:
        public_key.verify(unb64(envelope["signature"], f"{source}: signature"), payload)
    except InvalidSignature:
        raise SigningError(texts.cli("sign-signature", source=source)) from None
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SigningError(texts.cli("sign-payload", source=source)) from None
    check_document(document, source)
    return OpenedBundle(dict(envelope), document, kid)


def read_payload(envelope: dict[str, Any]) -> dict[str, Any]:
    """The document inside an envelope this town stored (already verified when stored)."""
    document: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return document
