"""The entry policy: a pure function from what the station saw to admit/deny and the reasons.

No I/O and no clock: the caller passes the verified claims (or the verification failure, or
nothing), the temperature outcome, the policy values and today's China Standard Time date.
The rules are DESIGN.md's table (seed: 红炉镇 2021 plan, 四(一) and 四(四)).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from station.codes import HealthClaims, Reason
from station.config import ORIGIN_CODES, PolicySettings

TemperatureOutcome = float | Literal["sensor-fault", "timeout"] | None
"""A body reading in °C (after any re-check), a sensor fault, nobody measured within the
timeout, or None when the person was not measured at all (an unverifiable code)."""


@dataclass(frozen=True)
class Decision:
    decision: Literal["admit", "deny"]
    reasons: tuple[str, ...]
    fever: bool

    @property
    def admitted(self) -> bool:
        return self.decision == "admit"


def is_fever(temperature_c: float, policy: PolicySettings) -> bool:
    return temperature_c >= policy.fever_threshold_c


def returning_reasons(claims: HealthClaims, policy: PolicySettings, today: dt.date) -> list[str]:
    """Reasons from the returning-worker rules (seed 四(四)); [] when they do not apply."""
    rules = policy.returning
    if claims.ret is None:
        return []
    returned, origin = claims.ret.date, claims.ret.origin
    first, last = rules.window
    if not first <= returned <= last:
        return []
    if int(origin) not in {ORIGIN_CODES[name] for name in rules.origins}:
        return []
    days_since = (today - returned).days
    if days_since >= rules.rules_apply_days:
        return []
    reasons: list[str] = []
    nat = claims.nat
    if nat is None:
        reasons.append("nat-missing")
    else:
        if nat < returned - dt.timedelta(days=rules.nat_max_age_days):
            reasons.append("nat-too-old")
        for followup in rules.followup_days:
            due = days_since > followup + rules.followup_grace_days
            if due and nat < returned + dt.timedelta(days=followup):
                reasons.append("followup-nat-due")
                break
    if days_since < rules.monitoring_days and rules.during_monitoring == "deny":
        reasons.append("monitoring")
    return reasons


def decide(
    code: HealthClaims | Reason | None,
    temperature: TemperatureOutcome,
    policy: PolicySettings,
    today: dt.date,
) -> Decision:
    """Admit only with a verified code whose every rule passes AND a valid, normal reading.

    `code` is the verified claims, a verification reason code (the code failed), or None
    (no code shown). Every reason that applies is listed, in a fixed order.
    """
    reasons: list[str] = []
    if code is None:
        reasons.append("no-code")
    elif isinstance(code, str):
        reasons.append(code)
    else:
        if code.color.word not in policy.color:
            reasons.append("color")
        reasons.extend(returning_reasons(code, policy, today))
    fever = False
    if temperature is None:
        if not reasons:  # fail closed: a verified code is never admitted unmeasured
            reasons.append("timeout")
    elif isinstance(temperature, str):
        reasons.append(temperature)
    elif is_fever(temperature, policy):
        fever = True
        reasons.append("fever")
    return Decision("deny" if reasons else "admit", tuple(reasons), fever)
