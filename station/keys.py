"""Issuer key files and QR images for issuing codes (the town's side; tests and demos).

A private key is a PKCS#8 PEM file, mode 0600; its public half a SubjectPublicKeyInfo PEM.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from station.codes import SigningKey, key_id
from station.errors import Localized, StationError


def new_signing_key(alg: Literal["EdDSA", "ES256"] = "EdDSA") -> SigningKey:
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def save_key_pair(key: SigningKey, directory: Path) -> tuple[Path, Path]:
    """Write `issuer-<kid>.key` (0600, created so, never world-readable) and `.pub`.

    StationError naming the path when the folder cannot be made or written (no permission,
    a regular file in the way), or when the key file already exists (never overwritten)."""
    stem = f"issuer-{key_id(key.public_key()).hex()}"
    private_path, public_path = directory / f"{stem}.key", directory / f"{stem}.pub"
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    target = directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
        target = private_path
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        target = public_path
        public_path.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    except FileExistsError as error:
        if target == directory:  # a regular file where the folder should be
            raise StationError(key="file.is_not_folder", path=directory.absolute()) from None
        raise StationError(key="keys.exists", path=target.absolute()) from error
    except OSError as error:
        raise StationError(key="keys.cannot_save", path=target.absolute(), error=error
                           ) from None
    return private_path, public_path


def load_signing_key(path: Path) -> SigningKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StationError(key="keys.cannot_read", path=path, error=error) from None
    try:
        key: Any = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise StationError(key="keys.not_private_pem", path=path) from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise StationError(key="keys.issuer_kind", path=path)
    return key


def load_public_key(path: Path) -> Any:
    try:
        return serialization.load_pem_public_key(path.read_bytes())
    except OSError as error:
        raise StationError(key="keys.cannot_read", path=path, error=error) from None
    except (ValueError, TypeError):
        raise StationError(key="keys.not_public_pem", path=path) from None


def write_qr_png(text: str, path: Path, scale: int = 8) -> None:
    """The code as a PNG: byte-exact text, alphanumeric mode for THP1, error correction M."""
    import segno

    mode = "alphanumeric" if text.startswith("THP1:") else None
    code = segno.make(text, error="m", mode=mode, micro=False, boost_error=False)
    try:
        code.save(str(path), scale=scale, border=4)
    except OSError as error:  # a missing or read-only folder: one line, not a traceback
        raise StationError(key="keys.cannot_write", path=path.absolute(), error=error
                           ) from None


def kid_text(kid: bytes) -> str:
    """A key id as people see it: hex (as in key file names and errors), with the base64
    spelling the JSON trust lists use beside it."""
    import base64

    return Localized("keys.kid_text", kid_hex=kid.hex(), kid=base64.b64encode(kid).decode())
