"""TESTS ONLY: signing station bundles exactly as sync.md v1.1 "Pull" says, so that the
station's tests do not depend on the town's implementation.

Envelope: {"payload": b64(document JSON bytes), "alg": "EdDSA", "kid": b64(first 8 bytes of
SHA-256 over the DER SPKI), "signature": b64(Ed25519 signature over the payload bytes)};
base64 is RFC 4648 §4 with padding.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from station.clock import CST


def new_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def spki(key: ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey) -> str:
    """base64 DER SubjectPublicKeyInfo: what `town.bundle_keys` pins."""
    public = key.public_key() if isinstance(key, ed25519.Ed25519PrivateKey) else key
    return base64.b64encode(public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def kid(key: ed25519.Ed25519PrivateKey) -> bytes:
    return hashlib.sha256(base64.b64decode(spki(key))).digest()[:8]


def document(serial: int, *, issued_at: dt.datetime | None = None,
             valid_for: dt.timedelta = dt.timedelta(days=7), trust: Any = None,
             rules: Any = None, **extra: Any) -> dict[str, Any]:
    issued = issued_at or dt.datetime.now(CST).replace(microsecond=0)
    return {"serial": serial, "version": f"{issued.isoformat()}#{serial}",
            "issued_at": issued.isoformat(), "expires": (issued + valid_for).isoformat(),
            "trust": trust if trust is not None else {"keys": [], "revocations": []},
            "rules": rules if rules is not None else {}, **extra}


def payload_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def envelope(key: ed25519.Ed25519PrivateKey, payload: bytes, *, kid_bytes: bytes | None = None,
             signature: bytes | None = None) -> dict[str, str]:
    """The signed envelope; `kid_bytes`/`signature` override the real ones (hostile tests)."""
    sig = key.sign(payload) if signature is None else signature
    return {"payload": base64.b64encode(payload).decode(), "alg": "EdDSA",
            "kid": base64.b64encode(kid(key) if kid_bytes is None else kid_bytes).decode(),
            "signature": base64.b64encode(sig).decode()}


def signed(key: ed25519.Ed25519PrivateKey, doc: dict[str, Any]) -> bytes:
    """The HTTP body of a bundle answer: the envelope as JSON bytes."""
    return json.dumps(envelope(key, payload_bytes(doc))).encode()
