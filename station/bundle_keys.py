"""The town's bundle keys as a station pins them (sync.md "Pull"): base64 SPKI, Ed25519.

`town.bundle_keys` in config.yaml lists them; a signed bundle may replace the list (rotation).
A kid is the first 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo, as for issuer keys.
Imports nothing of the project, so config validation can use it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import load_der_public_key

PinnedKeys = dict[bytes, ed25519.Ed25519PublicKey]


def strict_b64decode(text: str) -> bytes:
    """RFC 4648 §4 base64 (standard alphabet, `=` padding); binascii.Error otherwise."""
    if not isinstance(text, str) or not text.isascii():
        raise binascii.Error("not ASCII text")
    return base64.b64decode(text.encode("ascii"), validate=True)


def bundle_key(spki_b64: str) -> tuple[bytes, ed25519.Ed25519PublicKey]:
    """(kid, public key) of one pinned key; ValueError saying what is wrong with it."""
    try:
        spki = strict_b64decode(spki_b64)
    except binascii.Error:
        raise ValueError("not base64 (RFC 4648, with padding)") from None
    try:
        key = load_der_public_key(spki)
    except (ValueError, TypeError):
        raise ValueError("not a DER SubjectPublicKeyInfo") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError("not an Ed25519 key (bundle keys are Ed25519)")
    return hashlib.sha256(spki).digest()[:8], key


def pinned_keys(spkis: Iterable[str]) -> PinnedKeys:
    """kid → key for a list of base64 SPKI; ValueError naming the first bad entry."""
    keys: PinnedKeys = {}
    for index, text in enumerate(spkis):
        try:
            kid, key = bundle_key(text)
        except ValueError as error:
            raise ValueError(f"[{index}]: {error}") from None
        keys[kid] = key
    return keys
