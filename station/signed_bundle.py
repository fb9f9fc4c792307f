"""Receiving a signed bundle from the town (sync.md v1.1 "Pull").

The bundle decides which health codes open the gate, so a received bundle is applied only
when ALL of these hold:

1. the envelope `{"payload", "alg": "EdDSA", "kid", "signature"}` is well formed (RFC 4648
   base64 with padding) and the signature over the decoded payload bytes verifies with an
   accepted bundle key whose kid matches (the payload is parsed only after that);
2. the document validates: `serial` (an integer, 0 < serial < 2^53), `version`, `issued_at`,
   `expires`, `trust`, `rules` required; `bundle_keys` optional; unknown fields and rule keys
   ignored with a warning;
3. `serial` is above the serial of the bundle the station has;
4. `expires` has not passed at `now` (the caller passes the later of its clock and its clock
   floor).

The same serial with the same payload bytes is `unchanged` (no fault). Anything else raises
`BundleRefused` and changes nothing on disk: the last good bundle stays.

The accepted keys are `town.bundle_keys` from config until a bundle carrying `bundle_keys` is
applied; from then on only that list, kept in `<bundle file>.keys` (written atomically after
the bundle file; a crash between the two is repaired from the bundle file on the next look).
The bundle file holds the exact payload bytes the town signed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature

from station.bundle import Bundle, BundleError, load_bundle, parse_bundle
from station.bundle_keys import PinnedKeys, pinned_keys, strict_b64decode
from station.errors import Localized, value_reason
from station.files import atomic_write
from station.timeparse import aware_instant

log = logging.getLogger("gate-station.bundle")

MAX_BUNDLE_BYTES = 2 * 1024 * 1024  # a trust list of a thousand keys is ~300 KB
MAX_SERIAL = 2**53
REQUIRED = ("serial", "version", "issued_at", "expires", "trust", "rules")
KNOWN = (*REQUIRED, "bundle_keys")


class BundleRefused(BundleError):
    """A received bundle that is not applied; the message says why (one line)."""


@dataclass(frozen=True)
class SignedDocument:
    serial: int
    issued_at: dt.datetime
    expires: dt.datetime
    bundle_keys: tuple[str, ...] | None
    bundle: Bundle
    payload: bytes
    kid: bytes


@dataclass(frozen=True)
class Received:
    outcome: Literal["applied", "unchanged"]
    bundle: Bundle
    warnings: tuple[str, ...] = ()


def open_envelope(raw: bytes, accepted: PinnedKeys) -> tuple[bytes, bytes]:
    """(verified payload bytes, kid); BundleRefused when the envelope or signature is wrong."""
    try:
        envelope = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleRefused(key="refused.not_json") from None
    if not isinstance(envelope, dict):
        raise BundleRefused(key="refused.not_object")
    if "payload" not in envelope or "signature" not in envelope:
        raise BundleRefused(key="refused.unsigned")
    if envelope.get("alg") != "EdDSA":
        raise BundleRefused(key="refused.alg", alg=repr(str(envelope.get("alg"))[:20]))
    parts: dict[str, bytes] = {}
    for name in ("payload", "kid", "signature"):
        try:
            parts[name] = strict_b64decode(envelope.get(name))  # type: ignore[arg-type]
        except ValueError:
            raise BundleRefused(key="refused.not_base64", name=name) from None
    if len(parts["kid"]) != 8 or len(parts["signature"]) != 64:
        raise BundleRefused(key="refused.lengths")
    key = accepted.get(parts["kid"])
    if key is None:
        raise BundleRefused(key="refused.unknown_kid", kid_hex=parts["kid"].hex())
    try:
        key.verify(parts["signature"], parts["payload"])
    except InvalidSignature:
        raise BundleRefused(key="refused.signature", kid_hex=parts["kid"].hex()) from None
    return parts["payload"], parts["kid"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _instant(document: dict[str, Any], name: str) -> dt.datetime:
    parsed = aware_instant(document.get(name))
    if parsed is None:
        raise BundleRefused(key="refused.time", name=name)
    return parsed


def parse_document(payload: bytes, kid: bytes = b"") -> SignedDocument:
    """The verified payload as a bundle document; BundleRefused naming the bad field."""
    try:
        document = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise BundleRefused(key="refused.payload_not_json", error=str(error)[:80]) from None
    if not isinstance(document, dict):
        raise BundleRefused(key="refused.payload_not_object")
    missing = [name for name in REQUIRED if name not in document]
    if missing:
        raise BundleRefused(key="refused.lacks", names=", ".join(missing))
    serial = document["serial"]
    if type(serial) is not int or not 0 < serial < MAX_SERIAL:
        raise BundleRefused(key="refused.serial")
    issued_at, expires = _instant(document, "issued_at"), _instant(document, "expires")
    keys = document.get("bundle_keys")
    if keys is not None:
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise BundleRefused(key="refused.bundle_keys")
        try:
            pinned_keys(keys)
        except ValueError as error:
            raise BundleRefused(key="refused.bundle_key", error=value_reason(error)) from None
    try:
        bundle = parse_bundle(document, f"bundle {serial}")
    except BundleError as error:
        raise BundleRefused(error.message) from None
    unknown = sorted(set(document) - set(KNOWN))
    warnings = (*bundle.warnings,
                *(Localized("doc.unknown_field_ignored", where=f"bundle {serial}",
                            name=repr(name)) for name in unknown[:20]))
    for warning in warnings[len(bundle.warnings):]:
        log.warning("%s", warning)
    bundle = Bundle(bundle.version, bundle.trust, bundle.rules, bundle.document, warnings)
    return SignedDocument(serial, issued_at, expires, None if keys is None else tuple(keys),
                          bundle, payload, kid)


def keys_path(bundle_path: Path) -> Path:
    """Where the bundle keys a bundle installed are kept: beside the bundle file."""
    return bundle_path.with_name(bundle_path.name + ".keys")


def bundle_expires(bundle: Bundle) -> dt.datetime | None:
    """The `expires` of a bundle, None for one without (a local bundle)."""
    value = bundle.document.get("expires")
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


class BundleInbox:
    """The station's applied bundle and the keys it accepts, on disk beside each other."""

    def __init__(self, path: Path, configured_keys: Sequence[str]) -> None:
        self.path = path
        self.keys_path = keys_path(path)
        self.configured_keys = tuple(configured_keys)

    def current(self) -> Bundle | None:
        """The applied bundle (None when there is none); BundleError if it is unreadable."""
        return load_bundle(self.path)

    def accepted_keys(self) -> tuple[PinnedKeys, str]:
        """(kid → key, where the list comes from). A keys file that cannot be read accepts
        nothing: falling back to config could bring back a withdrawn key."""
        self._repair_keys_file()
        try:
            text = self.keys_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return pinned_keys(self.configured_keys), "town.bundle_keys"
        except OSError as error:
            log.error("%s: cannot read (%s): no bundle key is accepted", self.keys_path, error)
            return {}, str(self.keys_path)
        try:
            stored = json.loads(text)
            keys = pinned_keys(stored["bundle_keys"])
        except (ValueError, KeyError, TypeError) as error:
            log.error("%s: not a bundle key list (%s): no bundle key is accepted",
                      self.keys_path, error)
            return {}, str(self.keys_path)
        return keys, f"{self.keys_path} (installed by bundle {stored.get('serial')})"

    def _repair_keys_file(self) -> None:
        """A crash between writing the bundle and its keys file leaves the keys behind."""
        try:
            bundle = self.current()
        except BundleError:
            return
        if bundle is None or not isinstance(bundle.document.get("bundle_keys"), list):
            return
        try:
            stored_serial = json.loads(self.keys_path.read_text(encoding="utf-8"))["serial"]
        except FileNotFoundError:
            stored_serial = 0
        except (OSError, ValueError, KeyError, TypeError):
            return  # unreadable: accepted_keys() reports it and accepts nothing
        if type(stored_serial) is int and stored_serial < bundle.serial:
            self._write_keys(bundle.serial, bundle.document["bundle_keys"])

    def _write_keys(self, serial: int, keys: Sequence[str]) -> None:
        atomic_write(self.keys_path, json.dumps(
            {"serial": serial, "bundle_keys": list(keys)}, indent=1).encode())
        log.warning("bundle keys replaced by bundle %d: from now on only %d key(s) are "
                    "accepted", serial, len(keys))

    def receive(self, raw: bytes, now: dt.datetime) -> Received:
        """Check a bundle answer from the town and apply it, or raise BundleRefused.
        `now` is the later of the station's clock and its clock floor."""
        if len(raw) > MAX_BUNDLE_BYTES:
            raise BundleRefused(key="refused.too_big", limit=MAX_BUNDLE_BYTES)
        accepted, source = self.accepted_keys()
        if not accepted:
            raise BundleRefused(key="refused.no_keys", source=source)
        payload, kid = open_envelope(raw, accepted)
        signed = parse_document(payload, kid)
        try:
            current = self.current()
        except BundleError as error:  # a broken file on disk: a good new bundle replaces it
            log.error("%s", error)
            current = None
        current_serial = current.serial if current else 0
        if current is not None and signed.serial == current_serial:
            try:
                on_disk = self.path.read_bytes()
            except OSError:
                on_disk = b""
            if on_disk == payload:
                return Received("unchanged", current)
        if signed.serial <= current_serial:
            raise BundleRefused(key="refused.old_serial", serial=signed.serial,
                                current=current_serial)
        if signed.expires < now:
            raise BundleRefused(key="refused.expired", serial=signed.serial,
                                expires=signed.expires.isoformat())
        atomic_write(self.path, payload)
        if signed.bundle_keys is not None:
            self._write_keys(signed.serial, signed.bundle_keys)
        return Received("applied", signed.bundle, signed.bundle.warnings)
