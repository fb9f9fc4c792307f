"""The town's bundle keys as a station pins them (sync.md "Pull"): base64 SPKI, Ed25519.

`town.bundle_keys` in config.yaml lists them; a signed bundle may replace the list (rotation).
A kid is the first 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo, as for issuer keys.
Imports only the error tree of the project (config validation uses it). A ValueError raised
here carries one catalogue sentence (`Localized`): English as str, the configured locale where
a person reads it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from station.errors import Localized, value_reason

if TYPE_CHECKING:  # cryptography is imported where keys are used, not to check config.yaml
    from cryptography.hazmat.primitives.asymmetric import ed25519

PinnedKeys = dict[bytes, "ed25519.Ed25519PublicKey"]
# RFC 8410: an Ed25519 SubjectPublicKeyInfo is this 12-byte DER header and the 32-byte key
ED25519_SPKI_HEADER = bytes.fromhex("302a300506032b6570032100")
ED25519_SPKI_LENGTH = 44


def strict_b64decode(text: str) -> bytes:
    """RFC 4648 §4 base64 (standard alphabet, `=` padding); binascii.Error otherwise."""
    if not isinstance(text, str) or not text.isascii():
        raise binascii.Error("not ASCII text")
    return base64.b64decode(text.encode("ascii"), validate=True)


def check_bundle_key(spki_b64: str) -> None:
    """ValueError saying what is wrong with one pinned key, or nothing. An Ed25519 SPKI has
    one fixed DER form, so a good key is recognised without a crypto library (config
    validation stays light); a bad one is parsed to say exactly why."""
    try:
        spki = strict_b64decode(spki_b64)
    except binascii.Error:
        raise ValueError(Localized("bundle_key.not_base64")) from None
    if len(spki) == ED25519_SPKI_LENGTH and spki.startswith(ED25519_SPKI_HEADER):
        return
    bundle_key(spki_b64)  # raises the precise reason
    raise ValueError(Localized("bundle_key.not_ed25519"))


def check_pinned_keys(spkis: Iterable[str]) -> None:
    """ValueError naming the first bad entry of a list of base64 SPKI."""
    for index, text in enumerate(spkis):
        try:
            check_bundle_key(text)
        except ValueError as error:
            raise ValueError(Localized("bundle_key.entry", index=index,
                                        error=value_reason(error))) from None


def bundle_key(spki_b64: str) -> tuple[bytes, ed25519.Ed25519PublicKey]:
    """(kid, public key) of one pinned key; ValueError saying what is wrong with it."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        spki = strict_b64decode(spki_b64)
    except binascii.Error:
        raise ValueError(Localized("bundle_key.not_base64")) from None
    try:
        key = load_der_public_key(spki)
    except (ValueError, TypeError):
        raise ValueError(Localized("bundle_key.not_spki")) from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError(Localized("bundle_key.not_ed25519"))
    return hashlib.sha256(spki).digest()[:8], key


def pinned_keys(spkis: Iterable[str]) -> PinnedKeys:
    """kid → key for a list of base64 SPKI; ValueError naming the first bad entry."""
    keys: PinnedKeys = {}
    for index, text in enumerate(spkis):
        try:
            kid, key = bundle_key(text)
        except ValueError as error:
            raise ValueError(Localized("bundle_key.entry", index=index,
                                        error=value_reason(error))) from None
        keys[kid] = key
    return keys
