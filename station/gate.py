"""The gate loop: scan → verify → measure → decide → commit the record → actuate.

`Gate` is a state machine over its drivers, ledger, trust, policy and clock, all passed in,
so the daemon (`gate-station run`), `simulate` and the tests run the same code — the daemon
on real devices and the system clock, the others on fakes and a virtual clock.

One `step()` is one iteration: handle exit-button presses, wait up to `idle_scan_s` for a
code, and when none comes, look for a person standing at the thermometer without one.

Fail closed, everywhere:
- an unverifiable code is denied at once, unmeasured;
- a verified code is admitted only with a valid, normal reading (policy.decide);
- the record is committed to the ledger BEFORE the relay moves; if the ledger cannot be
  written, nobody is admitted (red blinking) until it can, and the outage is recorded then;
- a thermometer fault denies `sensor-fault`, and writes a `fault` record when it starts and
  when it ends; a camera fault shows red blinking and is retried with backoff.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.protocols import Measurement, Outputs, Scanner, Thermometer
from station.clock import Clock, cst_date, verification_time
from station.codes import CodeError, HealthClaims, verify
from station.config import PolicySettings
from station.errors import ScannerError, ThermometerError
from station.handover import Capture, CaptureRequest, CaptureSlot
from station.ledger import RECOVERED, Kind, Ledger, LedgerError, Record
from station.policy import Decision, TemperatureOutcome, decide, is_fever
from station.trust import TrustList

log = logging.getLogger("gate-station.gate")


@dataclass(frozen=True)
class GateTiming:
    idle_scan_s: float = 0.2  # how long one step waits for a code
    no_code_after_s: float = 3.0  # a person this long at the thermometer without a code
    door_held_open_s: float = 30.0  # the door open this long while the gate is shut: fault


class Gate:
    def __init__(
        self,
        *,
        thermometer: Thermometer,
        scanner: Scanner,
        outputs: Outputs,
        ledger: Ledger,
        trust: Callable[[], TrustList],
        policy: Callable[[], PolicySettings],
        clock: Clock,
        timing: GateTiming | None = None,
        on_record: Callable[[Record], None] | None = None,
        captures: CaptureSlot | None = None,
    ) -> None:
        self.thermometer = thermometer
        self.scanner = scanner
        self.outputs = outputs
        self.ledger = ledger
        self.trust = trust
        self.policy = policy
        self.clock = clock
        self.timing = timing or GateTiming()
        self.on_record = on_record
        self.captures = captures  # the console's hand-over requests (station/handover.py)
        self.faults: dict[str, str] = {}
        self._ledger_outage: tuple[str, int] | None = None  # (since, people turned away)
        self._exit_presses: deque[float] = deque()
        self._present_since: float | None = None
        self._presence_handled = False
        self._door_open_since: float | None = None  # door open while the gate is shut
        self.latencies_s: deque[float] = deque(maxlen=10_000)
        self._floor: dt.datetime | None = None  # the clock floor (health-code.md)
        self._floor_loaded = False

    # -- inputs from other threads --------------------------------------------------------

    def press_exit(self) -> None:
        """Called from the exit button's callback thread; handled by the next step()."""
        self._exit_presses.append(self.clock.monotonic())

    @property
    def pending_exits(self) -> int:
        """Exit-button presses not handled yet."""
        return len(self._exit_presses)

    @property
    def person_handled(self) -> bool:
        """Whether the person now in front of the thermometer has been decided on."""
        return self._presence_handled

    def expect_new_person(self) -> None:
        """The next person at the thermometer is someone new (a script says so; the daemon
        learns it when the reading leaves the body range)."""
        self._presence_handled = False

    # -- the loop ---------------------------------------------------------------------------

    def step(self) -> None:
        """One iteration of the gate loop. Only the loop's thread calls it; the exit button's
        thread only appends to `_exit_presses` (a deque: thread-safe)."""
        self._retry_ledger()
        self._handle_exits()
        self._watch_door()
        try:
            text = self.scanner.scan(self.timing.idle_scan_s)
        except ScannerError as error:
            self._fault("camera", str(error))
            return
        self._recovered("camera")
        if text is not None:
            self.handle_code(text)
        else:
            self._check_presence()

    def handle_code(self, text: str) -> None:
        """A code was read: the whole decision for one person (or, while the console has a
        hand-over request open, the code and a reading for the guard's form instead)."""
        capture = self.captures.pending if self.captures else None
        if capture is not None and capture.want == "code+reading":
            self._hand_over(capture, text)
            return
        started = time.perf_counter()
        policy = self.policy()
        now = self._verification_time()
        try:
            claims = self._verify(text, policy, now)
        except CodeError as error:
            log.info("code refused: %s", error)
            decision = decide(error.reason, None, policy, cst_date(now))
            self._conclude(decision, None, None, (), started, 0.0)
            return
        self.outputs.prompt()
        measure_started = time.perf_counter()
        outcome, measurements = self._measure(policy)
        measuring_s = time.perf_counter() - measure_started
        decision = decide(claims, outcome, policy, cst_date(max(now, self.clock.now())))
        self._conclude(decision, claims, outcome, measurements, started, measuring_s)
        self._present_since, self._presence_handled = None, True

    def _measure(self, policy: PolicySettings
                 ) -> tuple[TemperatureOutcome, tuple[Measurement, ...]]:
        """Measure, re-checking a fever reading `policy.recheck` times."""
        taken: list[Measurement] = []
        try:
            first = self.thermometer.measure(policy.timeout)
            if first is None:
                return "timeout", ()
            taken.append(first)
            for _ in range(policy.recheck):
                if not is_fever(taken[-1].body_c, policy):
                    break
                again = self.thermometer.measure(policy.timeout)
                if again is None:  # stepped away: the fever reading stands
                    break
                taken.append(again)
        except ThermometerError as error:
            self._fault("thermometer", str(error))
            return "sensor-fault", tuple(taken)
        self._recovered("thermometer")
        return taken[-1].body_c, tuple(taken)

    def _verification_time(self) -> dt.datetime:
        """The clock, or its floor when the clock is unsynchronized and behind it."""
        return verification_time(self.clock.now(), self.clock.synced(), self.clock_floor())

    def _verify(self, text: str, policy: PolicySettings, now: dt.datetime) -> HealthClaims:
        """health-code.md's verification, with the clock floor and the lifetime limit."""
        return verify(text, self.trust(), now, skew=policy.skew_s,
                      clock_synced=self.clock.synced(),
                      max_lifetime_s=policy.max_code_lifetime_h * 3600)

    def _hand_over(self, capture: CaptureRequest, text: str | None) -> None:
        """Verify and measure for the guard's registration form: no entry is decided, no
        record written, the relay stays shut. The guard's form writes the record."""
        policy = self.policy()
        reason = None
        if text is not None:
            try:
                self._verify(text, policy, self._verification_time())
            except CodeError as error:
                reason = error.reason
        if reason is not None:
            capture.complete(Capture(text, reason, None, "not-measured"))
            return
        self.outputs.prompt()
        outcome, _ = self._measure(policy)
        reading = outcome if isinstance(outcome, float) else None
        capture.complete(Capture(text, None, reading,
                                 "ok" if reading is not None else str(outcome)))
        self._present_since, self._presence_handled = None, True

    def _check_presence(self) -> None:
        """A person at the thermometer for `no_code_after_s` without a code: `no-code`."""
        capture = self.captures.pending if self.captures else None
        if capture is not None and capture.want == "code+reading":
            return  # the guard's person shows a code first; nobody is denied meanwhile
        policy = self.policy()
        try:
            body = self.thermometer.read_body()
        except ThermometerError as error:
            self._fault("thermometer", str(error))
            return
        self._recovered("thermometer")
        low, high = policy.plausible_c
        if not low <= body <= high:
            self._present_since, self._presence_handled = None, False
            return
        now = self.clock.monotonic()
        if self._present_since is None:
            self._present_since = now
        if capture is not None and not self._presence_handled:
            self._hand_over(capture, None)  # a reading only: the guard checked the code
            return
        if self._presence_handled or now - self._present_since < self.timing.no_code_after_s:
            return
        started = time.perf_counter()
        outcome, measurements = self._measure(policy)
        if outcome == "timeout":
            return  # walked away before being measured: nobody to record
        decision = decide(None, outcome, policy, cst_date(self.clock.now()))
        self._conclude(decision, None, outcome, measurements, started, 0.0)
        self._presence_handled = True

    def _watch_door(self) -> None:
        """The door contact (if any): open for longer than `door_held_open_s` while the
        relay holds the gate shut (someone holding it open, or tailgating) is an `outputs`
        fault — a record and red blinking — cleared when the door closes."""
        is_open = self.outputs.door_open
        if is_open is None:
            return
        now = self.clock.monotonic()
        if not is_open or self.outputs.gate_open:
            self._door_open_since = None
            if not is_open:
                self._recovered("outputs")
            return
        if self._door_open_since is None:
            self._door_open_since = now
        held = now - self._door_open_since
        if held >= self.timing.door_held_open_s:
            self._fault("outputs", f"door held open for {held:.0f} s while the gate is shut")

    def _handle_exits(self) -> None:
        while self._exit_presses:
            self._exit_presses.popleft()
            committed = self._write([self._record("exit", direction="out")])
            if committed:  # commit first, then open, as for entries
                self.outputs.open_for_exit()
            for record in committed:
                self._announce(record)

    # -- concluding a decision --------------------------------------------------------------

    def _conclude(self, decision: Decision, claims: HealthClaims | None,
                  outcome: TemperatureOutcome, measurements: tuple[Measurement, ...],
                  started: float, measuring_s: float) -> None:
        fields = _claim_fields(claims)
        temperature = outcome if isinstance(outcome, float) else None
        ambient = measurements[-1].ambient_c if measurements else None
        readings = tuple(m.body_c for m in measurements)
        entry = self._record("entry", direction="in", temperature_c=temperature,
                             ambient_c=ambient, readings=readings,
                             decision=decision.decision, reasons=decision.reasons, **fields)
        records = [entry]
        if decision.fever:
            records.append(self._record("alarm", direction="in", temperature_c=temperature,
                                        ambient_c=ambient, readings=readings,
                                        decision=decision.decision, reasons=("fever",),
                                        detail=f"fever {temperature} °C", **fields))
        committed = self._write(records)
        if committed and decision.admitted:
            self.outputs.admit()
        else:
            self.outputs.deny()
            if self.faults:
                self.outputs.show_fault()
        self.latencies_s.append(time.perf_counter() - started - measuring_s)
        if committed:
            for record in committed:
                self._announce(record)

    def _record(self, kind: Kind, **fields: Any) -> Record:
        return Record.stamped(self.clock, kind, **fields)

    def clock_floor(self) -> dt.datetime | None:
        """The time of the newest record written with a synchronized clock: read from the
        ledger once, then kept up to date as records are written."""
        if not self._floor_loaded:
            try:
                self._floor = self.ledger.clock_floor()
                self._floor_loaded = True
            except LedgerError as error:  # unreadable: the write that follows fails closed
                log.warning("clock floor unknown: %s", error)
        return self._floor

    def _write(self, records: list[Record]) -> list[Record]:
        """Commit, or enter the ledger fault (nobody admitted) and return []."""
        try:
            committed = self.ledger.append(*records)
            for record in committed:
                if record.clock_synced and self._floor_loaded:
                    written = dt.datetime.fromisoformat(record.time)
                    self._floor = written if self._floor is None else max(self._floor, written)
            return committed
        except LedgerError as error:
            if self._ledger_outage is None:
                self._ledger_outage = (self._record("fault").time, 0)
                log.error("LEDGER CANNOT BE WRITTEN — admitting nobody until it can: %s", error)
                self.faults["ledger"] = str(error)
                self.outputs.show_fault()
            since, turned_away = self._ledger_outage
            people = sum(1 for r in records if r.kind == "entry")
            self._ledger_outage = (since, turned_away + people)
            return []

    def _retry_ledger(self) -> None:
        if self._ledger_outage is None:
            return
        since, turned_away = self._ledger_outage
        record = self._record("fault", device="ledger",
                              detail=f"{RECOVERED}; it could not be written from {since}; "
                                     f"people turned away unrecorded: {turned_away}")
        try:
            committed = self.ledger.append(record)
        except LedgerError:
            return
        self._ledger_outage = None
        log.warning("ledger writable again after an outage since %s", since)
        self.faults.pop("ledger", None)
        if not self.faults:
            self.outputs.clear_fault()
        for item in committed:
            self._announce(item)

    def _fault(self, device: str, detail: str) -> None:
        if device in self.faults:
            return
        log.error("%s fault: %s", device, detail)
        self.faults[device] = detail
        self.outputs.show_fault()
        for record in self._write([self._record("fault", device=device, detail=detail)]):
            self._announce(record)

    def _recovered(self, device: str) -> None:
        if device not in self.faults:
            return
        log.warning("%s recovered", device)
        del self.faults[device]
        if not self.faults:
            self.outputs.clear_fault()
        for record in self._write([self._record("fault", device=device, detail=RECOVERED)]):
            self._announce(record)

    def _announce(self, record: Record) -> None:
        if self.on_record is not None:
            self.on_record(record)


def _claim_fields(claims: HealthClaims | None) -> dict[str, Any]:
    if claims is None:
        return {}
    return {
        "subject": claims.sub, "name": claims.name, "issuer": claims.iss, "org": claims.org,
        "color": claims.color.word,
        "nat": claims.nat.isoformat() if claims.nat else None,
        "returned": claims.ret.date.isoformat() if claims.ret else None,
        "origin": claims.ret.origin.word if claims.ret else None,
    }
