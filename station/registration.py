"""Vehicles, visitors and fever-alarm handling, as the gate guard registers them
(shared/spec/registration.md; seed 四(一), 四(二), 四(四)).

This module is the rules, independent of any page or API: it checks a submitted form
(`dict` of field → value, as a web form or a JSON body gives it), decides (`policy.vehicles`
and the gate's colour and fever rules), and writes the records through the ledger's own
`append` — one transaction, with the fever alarm when there is one — so the gate's commit
rules hold for every record. Nothing is written unless every field is valid: a refused form
raises `RegistrationRefused` listing each wrong field with a message in both languages.

Text fields are stored as typed after trimming; escaping is the job of whatever shows or
exports them. Names and phone numbers stay whole here; the sync client masks them on push.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from station.clock import Clock, verification_time
from station.codes import CodeError, verify
from station.config import PolicySettings
from station.errors import StationError
from station.ledger import Ledger, Record
from station.messages import Locale, reason_message, text
from station.trust import TrustList

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_BODY = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # A–Z without I and O, and digits
PLATE_SUFFIXES = "挂学警"
PLATE_NOISE = re.compile(r"[\s·.\-]")
PHONE = re.compile(r"1[3-9][0-9]{9}")
ID_LAST4 = re.compile(r"[0-9A-Z]{4}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

VEHICLE_TYPES = ("truck", "van", "car", "bus", "other")
CODE_CHECKS = ("thp1", "shown", "none")
COLORS = ("green", "yellow", "red")
ACK_ACTIONS = ("remeasured-normal", "sent-to-clinic", "sent-home", "isolated", "reported",
               "other")
BODY_RANGE_C = (34.0, 42.5)  # a typed body temperature (registration.md)


class RegistrationRefused(StationError, ValueError):
    """A form with wrong fields; `problems` maps each field to (code, parameters).
    Nothing was written."""

    def __init__(self, problems: dict[str, tuple[str, dict[str, Any]]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {code}" for field, (code, _) in problems.items()))

    def messages(self, locale: Locale = "zh_CN") -> dict[str, str]:
        """Each wrong field's problem, in words for the guard."""
        return {field: problem_message(code, params, locale)
                for field, (code, params) in self.problems.items()}


def problem_message(code: str, params: Mapping[str, Any], locale: Locale) -> str:
    if code == "code-refused":
        return text("registration.problem.code-refused", locale,
                    reason=reason_message(str(params["reason"]), locale))
    return text(f"registration.problem.{code}", locale, **params)


def normalize_plate(raw: str) -> str:
    """Upper case; spaces, `·`, `.` and `-` removed (registration.md)."""
    return PLATE_NOISE.sub("", raw).upper()


def is_mainland_plate(plate: str) -> bool:
    """A normalized plate of the mainland form: province abbreviation, a letter, then five
    characters of PLATE_BODY; or four and 挂/学/警; or six (new energy) whose first or last
    is D or F."""
    if len(plate) < 7 or plate[0] not in PROVINCES or not ("A" <= plate[1] <= "Z"):
        return False
    rest = plate[2:]
    if len(rest) == 5 and rest[-1] in PLATE_SUFFIXES:  # trailer, learner, police: 渝A1234挂
        return all(c in PLATE_BODY for c in rest[:4])
    if len(rest) == 5:
        return all(c in PLATE_BODY for c in rest)
    if len(rest) == 6:  # new energy: 渝AD12345, 渝A12345F
        return all(c in PLATE_BODY for c in rest) and (rest[0] in "DF" or rest[-1] in "DF")
    return False


@dataclass(frozen=True)
class CodeCheck:
    """How the person's health code was checked, and what it said."""

    checked: Literal["thp1", "shown", "none"]
    subject: str | None = None
    color: str | None = None
    name: str | None = None


class Form:
    """Reads fields of a submitted form, collecting every problem instead of stopping at
    the first one."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: dict[str, tuple[str, dict[str, Any]]] = {}

    def refuse(self, field: str, code: str, **params: Any) -> None:
        self.problems.setdefault(field, (code, params))

    def check(self) -> None:
        if self.problems:
            raise RegistrationRefused(self.problems)

    def text(self, field: str, limit: int, *, required: bool) -> str | None:
        value = self.data.get(field)
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.refuse(field, "not-text")
            return None
        value = value.strip()
        if not value:
            if required:
                self.refuse(field, "required")
            return None
        if CONTROL.search(value):
            self.refuse(field, "control-characters")
            return None
        if len(value) > limit:
            self.refuse(field, "too-long", limit=limit)
            return None
        return value

    def choice(self, field: str, choices: tuple[str, ...], *, required: bool = True
               ) -> str | None:
        value = self.text(field, 32, required=required)
        if value is not None and value not in choices:
            self.refuse(field, "choice", choices=" / ".join(choices))
            return None
        return value

    def flag(self, field: str) -> bool:
        """A yes/no field: JSON true/false, or a form's "true"/"on"/"1" and "false"/"0"/""
        (an unticked checkbox is absent)."""
        value = self.data.get(field, False)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "on", "1", "yes"):
            return True
        if value is None or (isinstance(value, str)
                             and value.strip().lower() in ("", "false", "off", "0", "no")):
            return False
        self.refuse(field, "not-yes-no")
        return False

    def integer(self, field: str, low: int, high: int, *, default: int | None = None
                ) -> int | None:
        value = self.data.get(field, default)
        if isinstance(value, str) and value.strip():
            value = value.strip()
            value = int(value) if value.isascii() and value.isdigit() else value
        if isinstance(value, str) and not value.strip() and default is not None:
            value = default
        if isinstance(value, bool) or not isinstance(value, int):
            self.refuse(field, "not-a-number")
            return None
        if not low <= value <= high:
            self.refuse(field, "range", low=low, high=high)
            return None
        return value

    def number(self, field: str, low: float, high: float, *, required: bool
               ) -> float | None:
        value = self.data.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.refuse(field, "required")
            return None
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                self.refuse(field, "not-a-number")
                return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.refuse(field, "not-a-number")
            return None
        number = float(value)
        if not math.isfinite(number) or not low <= number <= high:
            self.refuse(field, "range", low=low, high=high)
            return None
        return round(number, 1)

    def phone(self, field: str) -> str | None:
        value = self.text(field, 32, required=True)
        if value is not None:
            digits = value.replace(" ", "").replace("-", "")
            if not PHONE.fullmatch(digits):
                self.refuse(field, "phone")
                return None
            return digits
        return None

    def code(self, trust: TrustList, clock: Clock, floor: dt.datetime | None,
             policy: PolicySettings) -> CodeCheck:
        """`code_checked` with `code` (the THP1 text, verified here as the gate verifies:
        clock floor, lifetime limit) or `color` (shown)."""
        checked = self.choice("code_checked", CODE_CHECKS)
        if checked == "thp1":
            code_text = self.text("code", 1200, required=True)
            if code_text is None:
                return CodeCheck("thp1")
            try:
                synced = clock.synced()
                claims = verify(code_text, trust, verification_time(clock.now(), synced, floor),
                                skew=policy.skew_s, clock_synced=synced,
                                max_lifetime_s=policy.max_code_lifetime_h * 3600)
            except CodeError as error:
                self.refuse("code", "code-refused", reason=error.reason)
                return CodeCheck("thp1")
            return CodeCheck("thp1", claims.sub, claims.color.word, claims.name)
        if checked == "shown":
            return CodeCheck("shown", None, self.choice("color", COLORS))
        return CodeCheck("none")


@dataclass(frozen=True)
class Outcome:
    """What was written: the registration record (with its seq) and the alarm, if any."""

    record: Record
    alarm: Record | None

    @property
    def decision(self) -> str | None:
        return self.record.decision


def person_reasons(code: CodeCheck, temperature_c: float, policy: PolicySettings) -> list[str]:
    """The gate's colour and fever rules for someone registered by hand, in registration.md's
    order: `color`, `no-code`, `fever`."""
    reasons = []
    if code.checked in ("thp1", "shown") and code.color not in policy.color:
        reasons.append("color")
    if code.checked == "none":
        reasons.append("no-code")
    if temperature_c >= policy.fever_threshold_c:
        reasons.append("fever")
    return reasons


def vehicle_reasons(code: CodeCheck, temperature_c: float, disinfected: bool, cold_chain: bool,
                    policy: PolicySettings) -> list[str]:
    """registration.md's vehicle decision: the driver's colour/no-code/fever, then
    `not-disinfected` and `cold-chain` as `policy.vehicles` says."""
    reasons = person_reasons(code, temperature_c, policy)
    if policy.vehicles.require_disinfection and not disinfected:
        reasons.append("not-disinfected")
    if cold_chain and policy.vehicles.cold_chain_policy == "deny":
        reasons.append("cold-chain")
    return reasons


class Registrar:
    """Writes registration records into one ledger, for one station's policy and trust.

    `policy` and `trust` are callables so the console follows the current bundle as the
    gate does. `operator` on each call is the console account that wrote the record.
    """

    def __init__(self, ledger: Ledger, *, clock: Clock, policy: Callable[[], PolicySettings],
                 trust: Callable[[], TrustList]) -> None:
        self.ledger = ledger
        self.clock = clock
        self.policy = policy
        self.trust = trust

    def _stamp(self, kind: Literal["vehicle", "visitor", "ack", "alarm"], **fields: Any
               ) -> Record:
        return Record.stamped(self.clock, kind, **fields)

    def _commit(self, record: Record, alarm: Record | None, preview: bool = False) -> Outcome:
        if preview:  # checked and decided, not written (the page shows the decision first)
            return Outcome(record, alarm)
        written = self.ledger.append(record, *([alarm] if alarm else []))
        return Outcome(written[0], written[1] if alarm else None)

    def _alarm(self, record: Record, person: str | None, phone: str | None, what: str
               ) -> Record:
        return self._stamp("alarm", direction="in", subject=record.subject, name=person,
                           phone=phone, color=record.color,
                           temperature_c=record.temperature_c, decision="deny",
                           reasons=("fever",), operator=record.operator,
                           detail=f"fever {record.temperature_c} °C ({what})")

    def vehicle_in(self, data: Mapping[str, Any], operator: str, *, preview: bool = False
                   ) -> Outcome:
        """Register a vehicle entering; refused (nothing written) on any wrong field. With
        `preview`, check and decide but write nothing (the record has no seq)."""
        form = Form(data)
        policy = self.policy()
        plate_other = form.flag("plate_other")
        raw_plate = form.text("plate", 32, required=True)
        plate = None
        if raw_plate is not None:
            plate = raw_plate if plate_other else normalize_plate(raw_plate)
            if not plate_other and not is_mainland_plate(plate):
                form.refuse("plate", "plate")
        code = form.code(self.trust(), self.clock, self.ledger.clock_floor(), policy)
        temperature = form.number("temperature_c", *BODY_RANGE_C, required=True)
        fields = {
            "plate": plate, "plate_other": plate_other,
            "vehicle_type": form.choice("vehicle_type", VEHICLE_TYPES),
            "carrier": form.text("carrier", 64, required=False),
            "driver_name": form.text("driver_name", 32, required=True),
            "driver_phone": form.phone("driver_phone"),
            "occupants": form.integer("occupants", 0, 60, default=0),
            "origin": form.text("origin", 64, required=True),
            "via_risk_area": form.flag("via_risk_area"),
            "cargo": form.text("cargo", 64, required=False),
            "cold_chain": form.flag("cold_chain"),
            "disinfected": form.flag("disinfected"),
            "disinfection_method": form.text("disinfection_method", 32, required=False),
            "disinfection_operator": form.text("disinfection_operator", 32, required=False),
            "host": form.text("host", 64, required=False),
        }
        operator_name = _operator(form, operator)
        form.check()
        assert temperature is not None
        reasons = vehicle_reasons(code, temperature, bool(fields["disinfected"]),
                                  bool(fields["cold_chain"]), policy)
        record = self._stamp(
            "vehicle", direction="in", operator=operator_name, code_checked=code.checked,
            subject=code.subject, color=code.color, temperature_c=temperature,
            decision="deny" if reasons else "admit", reasons=tuple(reasons), **fields)
        alarm = (self._alarm(record, record.driver_name, record.driver_phone,
                             f"vehicle {plate}") if "fever" in reasons else None)
        return self._commit(record, alarm, preview)

    def visitor_in(self, data: Mapping[str, Any], operator: str, *, preview: bool = False
                   ) -> Outcome:
        """Register a visitor entering; refused (nothing written) on any wrong field. With
        `preview`, check and decide but write nothing."""
        form = Form(data)
        policy = self.policy()
        code = form.code(self.trust(), self.clock, self.ledger.clock_floor(), policy)
        temperature = form.number("temperature_c", *BODY_RANGE_C, required=True)
        id_last4 = form.text("id_last4", 4, required=False)
        if id_last4 is not None:
            id_last4 = id_last4.upper()
            if not ID_LAST4.fullmatch(id_last4):
                form.refuse("id_last4", "id-last4")
        vehicle_id = form.text("vehicle_id", 64, required=False)
        if vehicle_id is not None and not self._is_in_record("vehicle", vehicle_id):
            form.refuse("vehicle_id", "unknown-vehicle")
        fields = {
            "name": form.text("name", 32, required=True),
            "phone": form.phone("phone"),
            "id_last4": id_last4,
            "organisation": form.text("organisation", 64, required=False),
            "host": form.text("host", 64, required=True),
            "purpose": form.text("purpose", 64, required=True),
            "vehicle_id": vehicle_id,
        }
        operator_name = _operator(form, operator)
        form.check()
        assert temperature is not None
        reasons = person_reasons(code, temperature, policy)
        record = self._stamp(
            "visitor", direction="in", operator=operator_name, code_checked=code.checked,
            subject=code.subject, color=code.color, temperature_c=temperature,
            decision="deny" if reasons else "admit", reasons=tuple(reasons), **fields)
        alarm = (self._alarm(record, record.name, record.phone, "visitor")
                 if "fever" in reasons else None)
        return self._commit(record, alarm, preview)

    def out(self, kind: Literal["vehicle", "visitor"], visit_id: str, operator: str
            ) -> Outcome:
        """The `out` record of a vehicle or visitor inside now (`visit_id`: the event id of
        its `in` record). Refused when there is no such record or it already left."""
        form = Form({})
        operator_name = _operator(form, operator)
        entered = self.ledger.find_event(visit_id)
        if entered is None or entered.kind != kind or entered.direction != "in":
            form.refuse("visit_id", f"unknown-{kind}")
        elif self.ledger.has_left(visit_id):
            form.refuse("visit_id", "already-out")
        form.check()
        assert entered is not None
        copied = {field: getattr(entered, field) for field in _OUT_COPIES[kind]}
        record = self._stamp(kind, direction="out", operator=operator_name, visit_id=visit_id,
                             **copied)
        return self._commit(record, None)

    def ack(self, data: Mapping[str, Any], operator: str) -> Outcome:
        """Record how a fever alarm was handled (`ref_event_id` must name an alarm of this
        ledger). Several acks may follow one alarm; the last is its state."""
        form = Form(data)
        ref = form.text("ref_event_id", 64, required=True)
        if ref is not None:
            alarm = self.ledger.find_event(ref)
            if alarm is None or alarm.kind != "alarm":
                form.refuse("ref_event_id", "unknown-alarm")
        low, high = self.policy().plausible_c
        fields = {
            "ref_event_id": ref,
            "action": form.choice("action", ACK_ACTIONS),
            "remeasure_c": form.number("remeasure_c", low, high, required=False),
            "note": form.text("note", 200, required=False),
        }
        operator_name = _operator(form, operator)
        form.check()
        return self._commit(self._stamp("ack", operator=operator_name, **fields), None)

    def _is_in_record(self, kind: str, event_id: str) -> bool:
        record = self.ledger.find_event(event_id)
        return record is not None and record.kind == kind and record.direction == "in"


_OUT_COPIES: dict[str, tuple[str, ...]] = {
    "vehicle": ("plate", "plate_other", "vehicle_type", "driver_name", "driver_phone"),
    "visitor": ("name", "phone", "organisation", "host"),
}


def _operator(form: Form, operator: str) -> str | None:
    value = Form({"operator": operator}).text("operator", 32, required=True)
    if value is None:
        form.refuse("operator", "required")
    return value
