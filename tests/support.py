"""Helpers for tests: device settings taken from the config models (the one place that holds
their defaults), so a test never restates a pin number or a plausible range."""

from __future__ import annotations

import dataclasses
from typing import Any

from drivers.mlx90614 import MeasureSettings
from drivers.outputs import OutputPins
from station import config, hardware

DEFAULTS = config.validate({}, "(test defaults)")


def default_pins(**overrides: Any) -> OutputPins:
    """config.yaml's default wiring (relay 17 active-low, green 27, red 22, buzzer 23, exit
    24, no door contact), with `overrides`."""
    return dataclasses.replace(hardware.output_pins(DEFAULTS), **overrides)


def default_measure_settings(**overrides: Any) -> MeasureSettings:
    """The thermometer's sampling settings from the default config, with `overrides`."""
    return dataclasses.replace(hardware.measure_settings(DEFAULTS), **overrides)
