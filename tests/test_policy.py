"""The entry policy: every row of DESIGN.md's rules table, and the date arithmetic at its edges."""

from __future__ import annotations

import datetime as dt

import pytest

from station.codes import Color, HealthClaims, Origin, Returning
from station.config import PolicySettings, ReturningPolicy
from station.messages import REASON_MESSAGES, reason_message
from station.policy import decide

POLICY = PolicySettings()
TODAY = dt.date(2021, 2, 10)


def claims(color: Color = Color.GREEN, nat: dt.date | None = None,
           returned: dt.date | None = None, origin: Origin = Origin.OUTSIDE_MUNICIPALITY
           ) -> HealthClaims:
    return HealthClaims(iss="500118", iat=0, exp=1, sub="W1", color=color, nat=nat,
                        ret=Returning(returned, origin) if returned else None)


def reasons(code: object, temperature: object = 36.5, *, today: dt.date = TODAY,
            policy: PolicySettings = POLICY) -> tuple[str, ...]:
    return decide(code, temperature, policy, today).reasons  # type: ignore[arg-type]


def test_a_green_code_and_a_normal_reading_admit() -> None:
    decision = decide(claims(), 36.5, POLICY, TODAY)
    assert decision.admitted and decision.reasons == () and not decision.fever


@pytest.mark.parametrize(("reading", "fever"), [(37.2, False), (37.3, True), (39.0, True)])
def test_fever_at_or_above_the_threshold(reading: float, fever: bool) -> None:
    decision = decide(claims(), reading, POLICY, TODAY)
    assert decision.fever is fever
    assert decision.admitted is not fever
    assert ("fever" in decision.reasons) is fever


def test_the_threshold_is_configurable() -> None:
    policy = PolicySettings(fever_threshold_c=37.5)
    assert decide(claims(), 37.4, policy, TODAY).admitted


@pytest.mark.parametrize("color", [Color.YELLOW, Color.RED])
def test_only_green_admits(color: Color) -> None:
    assert reasons(claims(color)) == ("color",)


def test_the_admitted_colours_are_configurable() -> None:
    policy = PolicySettings(color=("green", "yellow"))
    assert reasons(claims(Color.YELLOW), policy=policy) == ()


@pytest.mark.parametrize("reason", ["format", "signature", "expired", "revoked", "unknown-key"])
def test_an_unverifiable_code_is_denied_with_its_reason_unmeasured(reason: str) -> None:
    decision = decide(reason, None, POLICY, TODAY)  # type: ignore[arg-type]
    assert decision.decision == "deny" and decision.reasons == (reason,)


def test_no_code_is_denied_and_a_fever_still_counts() -> None:
    assert reasons(None, 36.5) == ("no-code",)
    decision = decide(None, 38.0, POLICY, TODAY)
    assert decision.reasons == ("no-code", "fever") and decision.fever


@pytest.mark.parametrize("outcome", ["sensor-fault", "timeout"])
def test_no_valid_reading_never_admits(outcome: str) -> None:
    assert reasons(claims(), outcome) == (outcome,)


def test_a_verified_code_unmeasured_is_never_admitted() -> None:
    assert reasons(claims(), None) == ("timeout",)


def test_every_reason_has_messages_in_both_languages() -> None:
    for reason in ("fever", "color", "nat-missing", "nat-too-old", "followup-nat-due",
                   "monitoring", "sensor-fault", "no-code", "timeout", "format", "revoked"):
        assert reason in REASON_MESSAGES
        assert reason_message(reason, "zh_CN") != reason_message(reason, "en")


# -- returning workers (seed 四(四)) ---------------------------------------------------------

RET = dt.date(2021, 2, 1)


def test_returnee_without_nat_is_nat_missing() -> None:
    assert reasons(claims(returned=RET)) == ("nat-missing",)


@pytest.mark.parametrize(("nat", "expected"), [
    (RET - dt.timedelta(days=7), ()),  # exactly 7 days before: still valid
    (RET - dt.timedelta(days=8), ("nat-too-old",)),
    (RET, ()),
])
def test_nat_age_at_return(nat: dt.date, expected: tuple[str, ...]) -> None:
    assert reasons(claims(nat=nat, returned=RET), today=RET + dt.timedelta(days=2)) == expected


@pytest.mark.parametrize(("day", "nat", "expected"), [
    (7, RET, ()),  # day 7: test due today, not yet enforced
    (8, RET, ()),  # day 8 = 7 + grace: still allowed
    (9, RET, ("followup-nat-due",)),  # day 9: the day-7 test is overdue
    (9, RET + dt.timedelta(days=7), ()),  # day-7 test done
    (9, RET + dt.timedelta(days=6), ("followup-nat-due",)),  # a test on day 6 is too early
    (15, RET + dt.timedelta(days=7), ()),  # day 15 = 14 + grace
    (16, RET + dt.timedelta(days=7), ("followup-nat-due",)),  # the day-14 test is overdue
    (16, RET + dt.timedelta(days=14), ()),
    (20, RET, ("followup-nat-due",)),  # day 20: still under the rules
    (21, RET, ()),  # day 21: the rules no longer apply
])
def test_followup_tests_on_day_7_and_14_with_grace(
        day: int, nat: dt.date, expected: tuple[str, ...]) -> None:
    today = RET + dt.timedelta(days=day)
    assert reasons(claims(nat=nat, returned=RET), today=today) == expected


def test_grace_days_are_configurable() -> None:
    policy = PolicySettings(returning=ReturningPolicy(followup_grace_days=0))
    assert reasons(claims(nat=RET, returned=RET), today=RET + dt.timedelta(days=8),
                   policy=policy) == ("followup-nat-due",)


@pytest.mark.parametrize(("returned", "applies"), [
    (dt.date(2021, 1, 27), False),  # the day before the window
    (dt.date(2021, 1, 28), True),  # the window's first day
    (dt.date(2021, 3, 8), True),  # its last day
    (dt.date(2021, 3, 9), False),  # the day after
])
def test_the_return_window_edges(returned: dt.date, applies: bool) -> None:
    today = returned + dt.timedelta(days=1)
    assert (reasons(claims(returned=returned), today=today) == ("nat-missing",)) is applies


def test_a_worker_who_returned_before_the_window_is_not_a_returnee() -> None:
    assert reasons(claims(returned=dt.date(2021, 1, 10)), today=dt.date(2021, 1, 12)) == ()


def test_only_the_configured_origins_count() -> None:
    policy = PolicySettings(returning=ReturningPolicy(origins=("outside-municipality",)))
    code = claims(returned=RET, origin=Origin.KEY_POPULATION)
    assert reasons(code, policy=policy) == ()
    assert reasons(claims(returned=RET), policy=policy) == ("nat-missing",)


def test_during_monitoring_can_deny() -> None:
    policy = PolicySettings(returning=ReturningPolicy(during_monitoring="deny"))
    code = claims(nat=RET, returned=RET)
    assert reasons(code, today=RET + dt.timedelta(days=5), policy=policy) == ("monitoring",)
    tested = claims(nat=RET + dt.timedelta(days=7), returned=RET)
    assert reasons(tested, today=RET + dt.timedelta(days=13), policy=policy) == ("monitoring",)
    assert reasons(tested, today=RET + dt.timedelta(days=14), policy=policy) == ()
    assert reasons(code, today=RET + dt.timedelta(days=5)) == ()  # default: admit


def test_all_applicable_reasons_are_listed() -> None:
    code = claims(Color.YELLOW, returned=RET)
    assert reasons(code, 38.0) == ("color", "nat-missing", "fever")


def test_dates_are_china_standard_time_at_midnight() -> None:
    """00:30 CST on day 9 is still 16:30 UTC on day 8: the CST date decides."""
    from station.clock import cst_date

    instant = dt.datetime(2021, 2, 9, 16, 30, tzinfo=dt.UTC)  # 2021-02-10 00:30 CST
    assert cst_date(instant) == dt.date(2021, 2, 10)
    assert reasons(claims(nat=RET, returned=RET), today=cst_date(instant)) == (
        "followup-nat-due",)
