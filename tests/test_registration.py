"""Vehicles, visitors and alarm acks (registration.md): validation, decisions, what is written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from station.clock import CST, VirtualClock
from station.codes import Color, HealthClaims, issue
from station.config import PolicySettings
from station.ledger import Ledger
from station.registration import (
    PLATE_BODY,
    PROVINCES,
    Registrar,
    RegistrationRefused,
    is_mainland_plate,
    normalize_plate,
)
from station.trust import TrustList, trust_entry

KEY = ed25519.Ed25519PrivateKey.generate()
TRUST = TrustList.from_document({"keys": [trust_entry(KEY.public_key(), "500118")]})
START = dt.datetime(2021, 2, 22, 8, 0, tzinfo=CST)


def vehicle(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "plate": "渝A·12345", "vehicle_type": "truck", "carrier": "重庆某物流",
        "driver_name": "张三", "driver_phone": "138 0013 8000", "code_checked": "shown",
        "color": "green", "temperature_c": "36.6", "occupants": "1", "origin": "四川省成都市",
        "via_risk_area": False, "cargo": "钢材", "cold_chain": False, "disinfected": "on",
        "disinfection_method": "含氯消毒液喷洒", "disinfection_operator": "李四", "host": "仓库",
    }
    form.update(changes)
    return form


def visitor(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "王五", "phone": "13912345678", "id_last4": "123x", "organisation": "供应商",
        "host": "采购部", "purpose": "送样品", "code_checked": "none", "temperature_c": 36.4,
    }
    form.update(changes)
    return form


@pytest.fixture
def registrar(tmp_path: Path) -> Iterator[Registrar]:
    clock = VirtualClock(START)
    policy = PolicySettings()
    with Ledger(tmp_path / "ledger.db") as ledger:
        yield Registrar(ledger, clock=clock, policy=lambda: policy, trust=lambda: TRUST)


def thp1(clock: VirtualClock, color: Color = Color.GREEN, sub: str = "D0001") -> str:
    now = int(clock.now().timestamp())
    return issue(KEY, HealthClaims(iss="500118", iat=now - 60, exp=now + 3600, sub=sub,
                                   color=color, name="张*"))


def test_a_vehicle_in_is_written_whole_with_its_decision(registrar: Registrar) -> None:
    outcome = registrar.vehicle_in(vehicle(), "guard1")
    record = outcome.record
    assert (record.kind, record.direction, record.decision, record.reasons) == (
        "vehicle", "in", "admit", ())
    assert record.plate == "渝A12345" and record.driver_phone == "13800138000"
    assert record.disinfected is True and record.occupants == 1 and record.operator == "guard1"
    assert record.seq == 1 and outcome.alarm is None
    (stored,) = registrar.ledger.all_records()
    assert stored == record


@pytest.mark.parametrize(("changes", "reasons"), [
    ({"color": "yellow"}, ("color",)),
    ({"code_checked": "none", "color": None}, ("no-code",)),
    ({"disinfected": False}, ("not-disinfected",)),
    ({"color": "red", "temperature_c": 38.1, "disinfected": ""},
     ("color", "fever", "not-disinfected")),
])
def test_vehicle_reasons_in_the_order_registration_md_names(
        registrar: Registrar, changes: dict[str, Any], reasons: tuple[str, ...]) -> None:
    record = registrar.vehicle_in(vehicle(**changes), "guard1").record
    assert (record.decision, record.reasons) == ("deny", reasons)


def test_cold_chain_is_recorded_and_denied_only_when_policy_says_so(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    strict = PolicySettings().with_overrides({"vehicles": {"cold_chain_policy": "deny",
                                                           "require_disinfection": False}})
    with Ledger(tmp_path / "l.db") as ledger:
        lenient = Registrar(ledger, clock=clock, policy=PolicySettings, trust=lambda: TRUST)
        first = lenient.vehicle_in(vehicle(cold_chain=True), "g").record
        assert (first.decision, first.cold_chain) == ("admit", True)
        denying = Registrar(ledger, clock=clock, policy=lambda: strict, trust=lambda: TRUST)
        second = denying.vehicle_in(vehicle(cold_chain=True, disinfected=False), "g").record
        assert (second.decision, second.reasons) == ("deny", ("cold-chain",))


def test_a_fever_writes_the_alarm_in_the_same_transaction(registrar: Registrar) -> None:
    outcome = registrar.visitor_in(visitor(temperature_c="37.9"), "guard1")
    assert outcome.alarm is not None
    assert (outcome.record.seq, outcome.alarm.seq) == (1, 2)
    assert outcome.alarm.kind == "alarm" and outcome.alarm.reasons == ("fever",)
    assert outcome.alarm.name == "王五" and outcome.alarm.temperature_c == 37.9
    assert outcome.record.reasons == ("no-code", "fever")
    assert registrar.ledger.unhandled_alarms() == [outcome.alarm]


def test_a_thp1_code_is_verified_by_the_station(registrar: Registrar) -> None:
    clock = registrar.clock
    assert isinstance(clock, VirtualClock)
    record = registrar.vehicle_in(
        vehicle(code_checked="thp1", code=thp1(clock, Color.RED), color=None), "g").record
    assert (record.code_checked, record.subject, record.color) == ("thp1", "D0001", "red")
    assert record.reasons == ("color",)
    with pytest.raises(RegistrationRefused) as refused:
        registrar.vehicle_in(vehicle(code_checked="thp1", code="THP1:garbage"), "g")
    assert "code" in refused.value.problems
    assert "健康码未通过核验" in refused.value.messages("zh_CN")["code"]


def test_every_wrong_field_is_named_and_nothing_is_written(registrar: Registrar) -> None:
    bad = vehicle(plate="ABC", vehicle_type="rocket", driver_phone="12345", occupants="99",
                  temperature_c="45", driver_name="", origin="x" * 65, code_checked="maybe")
    with pytest.raises(RegistrationRefused) as refused:
        registrar.vehicle_in(bad, "guard1")
    assert set(refused.value.problems) == {"plate", "vehicle_type", "driver_phone",
                                           "occupants", "temperature_c", "driver_name",
                                           "origin", "code_checked"}
    english = refused.value.messages("en")
    assert english["origin"] == "at most 64 characters"
    assert english["temperature_c"] == "must be from 34.0 to 42.5"
    assert refused.value.messages("zh_CN")["driver_name"] == "必填"
    assert registrar.ledger.count() == 0


def test_out_records_link_to_their_in_record_once(registrar: Registrar) -> None:
    entered = registrar.vehicle_in(vehicle(), "guard1").record
    assert registrar.ledger.inside_now("vehicle") == [entered]
    left = registrar.out("vehicle", entered.event_id, "guard2").record
    assert (left.direction, left.visit_id, left.plate, left.decision) == (
        "out", entered.event_id, "渝A12345", None)
    assert left.temperature_c is None and registrar.ledger.inside_now("vehicle") == []
    with pytest.raises(RegistrationRefused, match="already-out"):
        registrar.out("vehicle", entered.event_id, "guard2")
    with pytest.raises(RegistrationRefused, match="unknown-visitor"):
        registrar.out("visitor", entered.event_id, "guard2")


def test_a_visitor_linked_to_a_vehicle(registrar: Registrar) -> None:
    car = registrar.vehicle_in(vehicle(), "guard1").record
    person = registrar.visitor_in(visitor(vehicle_id=car.event_id), "guard1").record
    assert person.vehicle_id == car.event_id and person.id_last4 == "123X"
    with pytest.raises(RegistrationRefused, match="unknown-vehicle"):
        registrar.visitor_in(visitor(vehicle_id="no-such-event"), "guard1")
    with pytest.raises(RegistrationRefused, match="id_last4"):
        registrar.visitor_in(visitor(id_last4="110101199001011234"), "guard1")


def test_acks_refer_to_an_alarm_and_the_last_is_its_state(registrar: Registrar) -> None:
    alarm = registrar.visitor_in(visitor(temperature_c=38.2), "guard1").alarm
    assert alarm is not None
    registrar.ack({"ref_event_id": alarm.event_id, "action": "sent-to-clinic",
                   "remeasure_c": "38.0", "note": "送镇卫生院"}, "officer1")
    last = registrar.ack({"ref_event_id": alarm.event_id, "action": "reported"}, "officer1")
    assert registrar.ledger.latest_ack(alarm.event_id) == last.record
    assert registrar.ledger.unhandled_alarms() == []
    entry = registrar.ledger.find_event(alarm.event_id)
    assert entry is not None
    for bad in ({"ref_event_id": "nope", "action": "reported"},
                {"ref_event_id": alarm.event_id, "action": "ignored"},
                {"ref_event_id": alarm.event_id, "action": "other", "note": "n" * 201}):
        with pytest.raises(RegistrationRefused):
            registrar.ack(bad, "officer1")


# -- properties -----------------------------------------------------------------------------

provinces = st.sampled_from(PROVINCES)
letters = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
body = st.text(alphabet=PLATE_BODY, min_size=5, max_size=5)


@given(provinces, letters, body, st.sampled_from(["", " ", "·", "-", "."]))
def test_ordinary_plates_are_valid_in_any_spelling(province: str, letter: str, rest: str,
                                                   noise: str) -> None:
    typed = f"{province}{letter.lower()}{noise}{rest[:2]}{noise}{rest[2:]}"
    plate = normalize_plate(typed)
    assert plate == f"{province}{letter}{rest}" and is_mainland_plate(plate)


@given(provinces, letters, st.text(alphabet=PLATE_BODY, min_size=5, max_size=5),
       st.sampled_from("DF"), st.booleans())
def test_new_energy_plates(province: str, letter: str, rest: str, df: str, front: bool) -> None:
    plate = f"{province}{letter}{df}{rest}" if front else f"{province}{letter}{rest}{df}"
    assert is_mainland_plate(plate)
    six = f"{rest}7"  # six characters: valid only when the first or the last is D or F
    assert is_mainland_plate(f"{province}{letter}{six}") == (six[0] in "DF")


@given(st.text(max_size=12))
def test_anything_else_needs_plate_other(typed: str) -> None:
    plate = normalize_plate(typed)
    if is_mainland_plate(plate):
        assert plate[0] in PROVINCES and 7 <= len(plate) <= 8
        assert all(c in PLATE_BODY + "挂学警" for c in plate[2:])
        assert "I" not in plate[2:] and "O" not in plate[2:]


@given(st.text(max_size=20))
@settings(max_examples=200)
def test_phone_numbers(typed: str) -> None:
    from station.registration import Form

    form = Form({"p": typed})
    result = form.phone("p")
    if result is not None:
        assert len(result) == 11 and result[0] == "1" and result[1] in "3456789"
        assert result.isascii() and result.isdigit()
    else:
        assert "p" in form.problems


@given(st.sampled_from(["driver_name", "origin", "carrier", "cargo", "host",
                        "disinfection_method", "disinfection_operator"]),
       st.integers(min_value=1, max_value=100))
@settings(max_examples=60, deadline=None)
def test_length_limits_refuse_and_write_nothing(tmp_path_factory: pytest.TempPathFactory,
                                                field: str, length: int) -> None:
    limits = {"driver_name": 32, "origin": 64, "carrier": 64, "cargo": 64, "host": 64,
              "disinfection_method": 32, "disinfection_operator": 32}
    clock = VirtualClock(START)
    path = tmp_path_factory.mktemp("limits") / "l.db"
    with Ledger(path) as ledger:
        registrar = Registrar(ledger, clock=clock, policy=PolicySettings, trust=lambda: TRUST)
        form = vehicle(**{field: "字" * length})
        if length <= limits[field]:
            assert getattr(registrar.vehicle_in(form, "g").record, field) == "字" * length
        else:
            with pytest.raises(RegistrationRefused):
                registrar.vehicle_in(form, "g")
            assert ledger.count() == 0
