"""Gate outputs on gpiozero's MockFactory: pin states and timings, and the relay failing closed."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from drivers.errors import OutputError
from drivers.outputs import (
    LONG_BEEP_S,
    SHORT_BEEP_S,
    GateOutputs,
    fail_closed_on_signals,
)
from tests.support import default_pins

PINS = default_pins(open_seconds=0.3)  # relay 17 active-low, green 27, red 22, buzzer 23, exit 24


def pin(factory: Any, number: int) -> Any:
    return factory.pin(number)


def test_relay_starts_off_active_low_means_pin_high(mock_factory: Any) -> None:
    with GateOutputs(PINS, mock_factory) as outputs:
        assert pin(mock_factory, 17).state is True  # HIGH = relay off on an active-low board
        assert not outputs.relay.value


def test_active_high_relay_starts_with_pin_low(mock_factory: Any) -> None:
    pins = default_pins(relay_active_high=True)
    with GateOutputs(pins, mock_factory):
        assert pin(mock_factory, 17).state is False


def test_admit_is_green_short_beep_and_a_relay_pulse(mock_factory: Any) -> None:
    relay, green, buzzer = (pin(mock_factory, n) for n in (17, 27, 23))
    with GateOutputs(PINS, mock_factory) as outputs:
        for p in (relay, green, buzzer):
            p.clear_states()
        outputs.admit()
        time.sleep(0.5)
        relay.assert_states_and_times([(0.0, True), (0.0, False), (0.3, True)])
        buzzer.assert_states_and_times([(0.0, False), (0.0, True), (SHORT_BEEP_S, False)])
        green.assert_states_and_times([(0.0, False), (0.0, True), (0.3, False)])


def test_deny_is_red_and_a_long_beep_with_the_relay_off(mock_factory: Any) -> None:
    relay, red, buzzer = (pin(mock_factory, n) for n in (17, 22, 23))
    with GateOutputs(PINS, mock_factory) as outputs:
        outputs.admit()
        time.sleep(SHORT_BEEP_S + 0.05)  # the admit beep is over; the relay is still open
        red.clear_states()
        buzzer.clear_states()
        outputs.deny()
        assert relay.state is True  # forced off at once, mid-pulse
        time.sleep(LONG_BEEP_S + 0.2)
        buzzer.assert_states_and_times([(0.0, False), (0.0, True), (LONG_BEEP_S, False)])
        assert red.states[1].state is True


def test_fault_blinks_red_until_cleared(mock_factory: Any) -> None:
    red = pin(mock_factory, 22)
    with GateOutputs(PINS, mock_factory) as outputs:
        red.clear_states()
        outputs.show_fault()
        time.sleep(0.9)
        changes = [s.state for s in red.states[1:]]
        assert changes[:4] == [True, False, True, False]
        outputs.clear_fault()
        assert red.state is False


def test_prompt_is_two_short_beeps(mock_factory: Any) -> None:
    buzzer = pin(mock_factory, 23)
    with GateOutputs(PINS, mock_factory) as outputs:
        buzzer.clear_states()
        outputs.prompt()
        time.sleep(0.6)
        assert [s.state for s in buzzer.states[1:]] == [True, False, True, False]


def test_exit_button_calls_back(mock_factory: Any) -> None:
    pressed: list[bool] = []
    with GateOutputs(PINS, mock_factory) as outputs:
        outputs.on_exit_pressed(lambda: pressed.append(True))
        pin(mock_factory, 24).drive_low()  # button to GND with pull-up
        time.sleep(0.1)
        assert pressed == [True]


def test_door_contact(mock_factory: Any) -> None:
    with GateOutputs(default_pins(door_contact=5), mock_factory) as outputs:
        door = pin(mock_factory, 5)
        door.drive_low()
        assert outputs.door_open is False
        door.drive_high()
        assert outputs.door_open is True
    with GateOutputs(PINS, mock_factory) as outputs:
        assert outputs.door_open is None


def test_relay_is_off_after_an_exception_mid_pulse(mock_factory: Any) -> None:
    relay = pin(mock_factory, 17)
    with pytest.raises(RuntimeError), GateOutputs(PINS, mock_factory) as outputs:
        outputs.admit()
        assert relay.state is False  # open
        raise RuntimeError("the gate loop crashed")
    assert relay.state is True  # closed again


def test_relay_is_off_after_sigterm_mid_pulse(mock_factory: Any) -> None:
    relay = pin(mock_factory, 17)
    outputs = GateOutputs(PINS, mock_factory)
    undo = fail_closed_on_signals(outputs)
    try:
        with pytest.raises(SystemExit) as exit_info, outputs:
            outputs.admit()
            assert relay.state is False
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler interrupts this
        assert exit_info.value.code == 0
        assert relay.state is True
    finally:
        undo()


def test_close_is_idempotent_and_releases_pins(mock_factory: Any) -> None:
    outputs = GateOutputs(PINS, mock_factory)
    outputs.close()
    outputs.close()
    with GateOutputs(PINS, mock_factory):  # the pins are free again
        pass


def test_a_pin_in_use_is_a_clear_error(mock_factory: Any) -> None:
    from gpiozero import LED

    holder = LED(27, pin_factory=mock_factory)
    try:
        with pytest.raises(OutputError, match="GPIO set-up failed"):
            GateOutputs(PINS, mock_factory)
        assert pin(mock_factory, 17).state is True  # the relay made first was closed off
    finally:
        holder.close()


def test_gpiozero_fallback_warnings_become_one_station_line() -> None:
    """Issue 15: with real drivers off a Pi, gpiozero warns once per pin factory it tries
    (PinFactoryFallback); the station turns them into its own one-line message."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", "from station.cli import main; main()", "relay-off",
         "--config", "config.yaml"], cwd=root, capture_output=True, text=True, timeout=60,
        env={**os.environ, "GATE_STATION_DRIVERS": "real"})
    assert result.returncode == 1
    assert "PinFactoryFallback" not in result.stderr and "warnings.warn" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gate-station: GPIO："), result.stderr
    assert "lgpio" in lines[0] and "drivers: fake" in lines[0]
