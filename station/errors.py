"""The project's one error tree: everything the station raises on purpose is a StationError."""

from __future__ import annotations


class StationError(Exception):
    """Base of every error the gate station raises on purpose."""


class ConfigError(StationError):
    """config.yaml (or a file it names) is not valid; `problems` lists `FILE:KEY: what is wrong`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class DeviceError(StationError):
    """A device driver failed; the subclass says which device and how."""


class ThermometerError(DeviceError):
    """The thermometer gave no trustworthy reading."""


class ScannerError(DeviceError):
    """The QR scanner (camera or serial module) is unavailable."""


class OutputError(DeviceError):
    """A GPIO output or input could not be set up or driven."""
