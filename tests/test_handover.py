"""Hand-over (station/handover.py): the console borrows the gate's scanner and thermometer."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from station.handover import (
    Capture,
    CaptureSlot,
    HandoverServer,
    HandoverUnavailable,
    request_capture,
)
from tests.test_gate import Harness, harness  # noqa: F401  (the gate harness fixture)


def test_a_code_and_a_reading_are_handed_over_and_nothing_is_decided(
        harness: Harness) -> None:  # noqa: F811
    slot = CaptureSlot()
    harness.gate.captures = slot
    request = slot.open("code+reading")
    assert request is not None
    harness.relay.clear_states()
    harness.person(harness.code("D7"), 36.7)
    result = request.wait(0)
    assert result == Capture(result.code if result else None, None, 36.7, "ok")
    assert result is not None and result.code and result.code.startswith("THP1:")
    assert harness.records == []  # the guard's form writes the record, not the gate
    assert all(state for _, state in harness.relay.states)  # relay never on (active-low)


def test_an_unverifiable_code_is_handed_over_with_its_reason_unmeasured(
        harness: Harness) -> None:  # noqa: F811
    slot = CaptureSlot()
    harness.gate.captures = slot
    request = slot.open("code+reading")
    assert request is not None
    harness.person("THP1:NOT-A-CODE", 36.5)
    assert request.wait(0) == Capture("THP1:NOT-A-CODE", "encoding", None, "not-measured")
    assert harness.records == []


def test_a_reading_only_request_measures_the_person_at_the_thermometer(
        harness: Harness) -> None:  # noqa: F811
    slot = CaptureSlot()
    harness.gate.captures = slot
    request = slot.open("reading")
    assert request is not None and slot.open("reading") is None  # one at a time
    harness.bus.object_c = 36.9  # someone steps up to the thermometer, no code shown
    harness.thermometer.readings.append(36.9)
    for _ in range(40):  # 8 s of standing there: long past the gate's no-code wait
        harness.gate.step()
    assert request.wait(0) == Capture(None, None, 36.9, "ok")
    assert harness.records == []  # no `no-code` denial for the guard's visitor


def test_the_socket_is_private_and_answers_one_request(tmp_path: Path) -> None:
    slot = CaptureSlot()
    path = tmp_path / "run" / "handover.sock"
    old = os.umask(0)
    try:
        server = HandoverServer(path, slot).start()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o660

    def gate_loop() -> None:  # what the gate does when the person shows up
        while slot.pending is None:
            threading.Event().wait(0.01)
        slot.pending.complete(Capture("THP1:X", None, 36.5, "ok"))

    thread = threading.Thread(target=gate_loop)
    thread.start()
    try:
        assert request_capture(path, "code+reading", 5) == Capture("THP1:X", None, 36.5, "ok")
        with pytest.raises(HandoverUnavailable, match="timeout"):
            request_capture(path, "reading", 0.2)
    finally:
        thread.join()
        server.close()
    assert not path.exists()
    with pytest.raises(HandoverUnavailable, match="no gate daemon answers"):
        request_capture(path)
