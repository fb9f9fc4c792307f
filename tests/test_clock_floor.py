"""Health codes and the clock (health-code.md step 7–9, DESIGN.md "Clock"): the claims
checks added in v1.1, and the clock floor after a power cut."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from station import config as config_module
from station.clock import CST, VirtualClock, verification_time
from station.codes import CodeError, Color, HealthClaims, issue, verify
from station.ledger import Record
from station.scenario import load_scenario
from station.simulate import simulate
from station.trust import TrustList, trust_entry

ROOT = Path(__file__).resolve().parent.parent
NOW = 1612135000
KEY = ed25519.Ed25519PrivateKey.generate()


def trust(issuer: str = "500118") -> TrustList:
    return TrustList.from_document({"keys": [trust_entry(KEY.public_key(), issuer)]})


def code(iat: int = NOW - 3600, exp: int = NOW + 3600, iss: str = "500118") -> str:
    return issue(KEY, HealthClaims(iss=iss, iat=iat, exp=exp, sub="W0012345",
                                   color=Color.GREEN))


@pytest.mark.parametrize(("text", "why"), [
    (code(iat=NOW - 60, exp=NOW - 60), "exp is not after iat"),
    (code(iat=NOW, exp=NOW - 10), "exp is not after iat"),
    (code(iat=NOW - 8 * 86400, exp=NOW + 3600), "over the maximum 168 h"),
    (code(iss="500119"), "is not the issuer of the key"),
])
def test_claims_fail_for_impossible_lifetimes_and_a_foreign_iss(text: str, why: str) -> None:
    with pytest.raises(CodeError) as caught:
        verify(text, trust(), NOW)
    assert caught.value.reason == "claims" and why in caught.value.detail


def test_the_maximum_lifetime_is_the_verifiers_and_a_key_without_issuer_accepts_any_iss(
        ) -> None:
    week_and_a_day = code(iat=NOW - 8 * 86400 + 3600, exp=NOW + 3600)
    assert verify(week_and_a_day, trust(), NOW, max_lifetime_s=9 * 86400).sub == "W0012345"
    assert verify(code(iss="999999"), trust(issuer=""), NOW).iss == "999999"
    exactly_a_week = code(iat=NOW - 7 * 86400 + 3600, exp=NOW + 3600)
    assert verify(exactly_a_week, trust(), NOW).sub == "W0012345"


def test_the_bundle_can_shorten_the_maximum_lifetime() -> None:
    policy = config_module.PolicySettings().with_overrides({"max_code_lifetime_h": 12})
    assert policy.max_code_lifetime_h == 12
    with pytest.raises(CodeError, match="claims"):
        verify(code(iat=NOW - 13 * 3600, exp=NOW + 3600), trust(), NOW,
               max_lifetime_s=policy.max_code_lifetime_h * 3600)


def test_an_unsynchronized_clock_skips_not_yet_valid_only() -> None:
    early = NOW - 86400  # the clock fell a day behind
    fresh = code(iat=NOW - 3600, exp=NOW + 3600)
    with pytest.raises(CodeError, match="not-yet-valid"):
        verify(fresh, trust(), early)
    assert verify(fresh, trust(), early, clock_synced=False).sub == "W0012345"
    with pytest.raises(CodeError, match="expired"):
        verify(code(iat=NOW - 7200, exp=NOW - 3600), trust(), NOW, clock_synced=False)


def test_verification_time_is_the_later_of_clock_and_floor_only_when_unsynchronized() -> None:
    clock = dt.datetime(2021, 1, 31, 7, 0, tzinfo=CST)
    floor = dt.datetime(2021, 2, 1, 7, 0, tzinfo=CST)
    assert verification_time(clock, False, floor) == floor
    assert verification_time(clock, True, floor) == clock
    assert verification_time(floor, False, clock) == floor
    assert verification_time(clock, False, None) == clock


def test_a_power_cut_turns_the_clock_back_and_ntp_restores_it() -> None:
    clock = VirtualClock(dt.datetime(2021, 2, 1, 7, 0, tzinfo=CST))
    boot = clock.boot_id
    clock.sleep(60)
    clock.power_cut(-86400)
    assert clock.now() == dt.datetime(2021, 1, 31, 7, 1, tzinfo=CST) and not clock.synced()
    assert clock.boot_id != boot and clock.boottime_ns() == 0
    clock.sleep(5)
    clock.ntp()
    assert clock.now() == dt.datetime(2021, 2, 1, 7, 1, 5, tzinfo=CST) and clock.synced()


def test_after_a_power_cut_an_expired_code_is_refused_and_a_fresh_one_passes(
        tmp_path: Path) -> None:
    scenario, times = load_scenario(ROOT / "scenarios/power-cut.yaml")
    records: list[Record] = []
    config = config_module.load(ROOT / "config.yaml")
    ledger = simulate(scenario, times, config, tmp_path / "ledger.db", on_record=records.append)
    ledger.close()
    got = [(r.subject, r.decision, r.reasons, r.clock_synced, r.time[:10]) for r in records]
    assert got == [
        ("W0000201", "admit", (), True, "2021-02-01"),
        (None, "deny", ("expired",), False, "2021-01-31"),  # expired at the floor
        ("W0000203", "admit", (), False, "2021-01-31"),  # issued "after" the clock: genuine
        ("W0000204", "admit", (), True, "2021-02-01"),
    ]
