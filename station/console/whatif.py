"""Policy what-if: a day's recorded entries decided again, by the same pure `decide`, under a
changed policy; who would have been decided differently, and why.

What the ledger keeps of a code (colour, NAT date, return date and origin) is all `decide`
reads of it, so the re-decision is exact for verified codes. A code that failed verification
stays failed (verification does not depend on the policy), an entry without a code stays
`no-code`, and the recorded temperature (after any re-check), sensor fault or timeout is
used as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from station.codes import REASONS, Color, HealthClaims, Origin, Reason, Returning
from station.config import PolicySettings
from station.ledger import DecidedEntry, Record
from station.policy import Decision, TemperatureOutcome, decide

Entry = Record | DecidedEntry  # a whole record, or the fields the policy read


@dataclass(frozen=True)
class Changed:
    record: Entry
    after: Decision


@dataclass
class WhatIf:
    day: dt.date
    entries: int = 0
    admitted_before: int = 0
    admitted_after: int = 0
    fevers_before: int = 0
    fevers_after: int = 0
    changed: list[Changed] = field(default_factory=list)


def recorded_code(record: Entry) -> HealthClaims | Reason | None:
    """The code as `decide` needs it: claims rebuilt from the record, the verification
    reason it failed with, or None when no code was shown."""
    for reason in REASONS:
        if reason in record.reasons:
            return reason
    if record.subject is None or record.color is None:
        return None
    returning = None
    if record.returned and record.origin:
        returning = Returning(dt.date.fromisoformat(record.returned),
                              Origin.from_word(record.origin))
    return HealthClaims(
        iss=record.issuer or "", exp=0, iat=0, sub=record.subject,
        color=Color[record.color.upper()], name=record.name,
        nat=dt.date.fromisoformat(record.nat) if record.nat else None, ret=returning,
        org=record.org)


def recorded_temperature(record: Entry) -> TemperatureOutcome:
    if "sensor-fault" in record.reasons:
        return "sensor-fault"
    if record.temperature_c is not None:
        return record.temperature_c
    if "timeout" in record.reasons:
        return "timeout"
    return None


def what_if(entries: Sequence[Entry], policy: PolicySettings, day: dt.date) -> WhatIf:
    result = WhatIf(day)
    for record in entries:
        after = decide(recorded_code(record), recorded_temperature(record), policy, day)
        result.entries += 1
        result.admitted_before += record.decision == "admit"
        result.admitted_after += after.admitted
        result.fevers_before += "fever" in record.reasons
        result.fevers_after += after.fever
        if after.decision != record.decision or after.reasons != record.reasons:
            result.changed.append(Changed(record, after))
    return result
