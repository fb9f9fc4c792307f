"""The drivers' own error tree; it imports nothing, so every driver can use it.

Like gpiozero's `exc.py` and pyserial's `SerialException(IOError)`, each error also inherits
the builtin it resembles, so `except OSError` around a device still catches a device fault.
The station builds its own tree (`station.errors.StationError`) on top; the CLI catches both.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base of every error a device driver raises on purpose."""


class ThermometerError(DeviceError, OSError):
    """The thermometer gave no trustworthy reading (bus error, PEC mismatch, bad value)."""


class ScannerError(DeviceError, OSError):
    """The QR scanner (camera or serial module) or its decoders are unavailable."""


class OutputError(DeviceError, OSError):
    """A GPIO output or input could not be set up or driven."""
