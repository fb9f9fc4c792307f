"""The station bundle (sync.md): trust list + revocations + rules, kept as one file.

The sync client writes the bundle it pulls to `bundle.path` atomically, after checking all of
it (station/signed_bundle.py: signature, serial, expiry, a trust list that parses, rules that
are valid policy values): a new bundle applies whole or not at all, and the last good one
stays on disk while the town is unreachable. The gate
daemon reads the file through `BundleWatcher`, which notices a new version by its mtime.

Rules use the keys of config.yaml's `policy:` section, nested (`{"returning": {"window":
[...]}}`) or dotted (`{"returning.window": [...]}`); a key the town does not set keeps the
local value. A rule key this version does not know is ignored with a warning (sync.md:
forward compatibility), a known key with a bad value makes the bundle invalid.

A bundle received from the town is applied only after its signature and serial are checked
(station/signed_bundle.py); the file on disk is the station's applied state and is trusted
as it is, so a hand-written `{"version": "local-1", "trust": …, "rules": {}}` still works.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from station.config import PolicySettings, _nest
from station.errors import ConfigError, Localized, StationError
from station.trust import TrustError, TrustList

log = logging.getLogger("gate-station.bundle")


class BundleError(StationError):
    """A bundle that cannot be applied; the message names the part that is wrong."""


def known_rules(rules: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the rules this version knows, nested; the dotted names of the ones it does not)."""
    return _known(_nest(rules), PolicySettings, "")


def _known(rules: dict[str, Any], model: type[BaseModel], prefix: str
           ) -> tuple[dict[str, Any], list[str]]:
    kept: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in rules.items():
        field = model.model_fields.get(key)
        if field is None:
            unknown.append(prefix + key)
            continue
        inner = field.annotation
        if isinstance(value, dict) and isinstance(inner, type) and issubclass(inner, BaseModel):
            kept[key], more = _known(value, inner, f"{prefix}{key}.")
            unknown += more
        else:
            kept[key] = value
    return kept, unknown


def apply_rules(policy: PolicySettings, rules: dict[str, Any], label: str = "rules"
                ) -> PolicySettings:
    """`policy` with the bundle's known rules laid over it; BundleError naming a bad value."""
    known, _ = known_rules(rules)
    try:
        return policy.with_overrides(known, label)
    except ConfigError as error:
        raise BundleError(error) from None  # its problems, each in the locale


def check_rules(rules: dict[str, Any]) -> PolicySettings:
    return apply_rules(PolicySettings(), rules)


@dataclass(frozen=True)
class Bundle:
    version: str
    trust: TrustList
    rules: dict[str, Any]
    document: dict[str, Any]
    warnings: tuple[str, ...] = ()

    @property
    def serial(self) -> int:
        """The town's serial of this bundle; 0 for a local or pre-signing bundle."""
        serial = self.document.get("serial")
        return serial if type(serial) is int and serial > 0 else 0


def parse_bundle(document: Any, source: str = "bundle") -> Bundle:
    if not isinstance(document, dict):
        raise BundleError(key="doc.not_object", where=source)
    version, trust, rules = document.get("version"), document.get("trust"), document.get("rules")
    if not isinstance(version, str) or not version:
        raise BundleError(key="doc.field_must_be_text", where=source, name="version")
    if not isinstance(rules, dict):
        raise BundleError(key="doc.field_must_be_object", where=source, name="rules")
    try:
        trust_list = TrustList.from_document(trust, f"{source}: trust")
    except TrustError as error:
        raise BundleError(error.message) from None
    check_rules(rules)
    warnings = [Localized("doc.unknown_rule", where=f"{source}: rules.{name}")
                for name in known_rules(rules)[1]]
    for warning in warnings:
        log.warning("%s", warning)
    return Bundle(version, trust_list, rules, document, tuple(warnings))


def load_bundle(path: Path) -> Bundle | None:
    """The bundle on disk, or None when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise BundleError(key="file.cannot_read", path=path, error=error) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BundleError(key="file.not_json", path=path, error=str(error)) from None
    return parse_bundle(document, str(path))


class BundleWatcher:
    """The daemon's view of the bundle file: trust and policy, reloaded when it changes.

    A bundle that fails to load (corrupt, invalid) is logged and the last good one kept.
    """

    def __init__(self, path: Path, base_policy: PolicySettings, check_every_s: float = 2.0):
        self.path = path
        self.base_policy = base_policy
        self.check_every_s = check_every_s
        self._lock = threading.Lock()
        self._mtime: int | None = None
        self._checked = 0.0
        self.trust = TrustList()
        self.policy = base_policy
        self.version: str | None = None
        self._reload()

    def _reload(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self._mtime:
            return
        self._mtime = mtime
        try:
            bundle = load_bundle(self.path)
        except StationError as error:
            log.error("keeping bundle %s: %s", self.version, error)
            return
        if bundle is None:
            return
        self.trust = bundle.trust
        self.policy = apply_rules(self.base_policy, bundle.rules)
        self.version = bundle.version
        log.info("bundle %s: %d trusted keys, %d revocations, rules %s", bundle.version,
                 len(bundle.trust.keys), len(bundle.trust.revocations), bundle.rules or "none")

    def refresh(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._checked >= self.check_every_s:
                self._checked = now
                self._reload()

    def current_trust(self) -> TrustList:
        self.refresh()
        return self.trust

    def current_policy(self) -> PolicySettings:
        self.refresh()
        return self.policy
