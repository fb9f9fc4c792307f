"""The station's error tree: everything the station raises on purpose is a StationError.

Device faults come from the drivers' own tree (`drivers.errors.DeviceError`), which the
station re-exports here for convenience; the CLI catches both roots.
"""

from __future__ import annotations

from drivers.errors import DeviceError, OutputError, ScannerError, ThermometerError

__all__ = [
    "ConfigError",
    "DeviceError",
    "OutputError",
    "ScannerError",
    "StationError",
    "ThermometerError",
]


class StationError(Exception):
    """Base of every error the gate station raises on purpose."""


class ConfigError(StationError, ValueError):
    """config.yaml (or a file it names) is not valid; `problems` lists `FILE:KEY: what is wrong`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
