"""The station's error tree: everything the station raises on purpose is a StationError.

Device faults come from the drivers' own tree (`drivers.errors.DeviceError`), which the
station re-exports here for convenience; the CLI catches both roots.

Errors a person reads carry a catalogue key and fields (`Localized`): `str(error)` is the
English sentence (journal logs, tests), `error.in_locale(locale)` the sentence in the
configured locale, which is what the command line prints (issue 15, Language).
"""

from __future__ import annotations

from drivers.errors import DeviceError, OutputError, ScannerError, ThermometerError
from station.messages import Locale, os_error_text, text

__all__ = [
    "ConfigError",
    "DeviceError",
    "Localized",
    "OutputError",
    "ScannerError",
    "StationError",
    "ThermometerError",
    "localize",
    "value_reason",
]


class Localized(str):
    """A catalogue sentence: the str itself is the English text (stable for logs and for
    code that matches or joins messages); `in_locale` renders it in another locale.

    Field values are rendered per locale too: an OSError as `os_error_text`, a Localized
    (or a StationError carrying one) in the same locale, anything else as `str()`."""

    key: str
    fields: dict[str, object]

    def __new__(cls, key: str, /, **fields: object) -> Localized:
        made = super().__new__(cls, _render(key, "en", fields))
        made.key = key
        made.fields = fields
        return made

    def in_locale(self, locale: Locale) -> str:
        return _render(self.key, locale, self.fields)


def localize(message: object, locale: Locale) -> str:
    """`message` for a person reading `locale`: a Localized or StationError rendered from
    the catalogue; any other object (a device's own message, a plain string) as it is."""
    if isinstance(message, Localized | StationError):
        return message.in_locale(locale)
    if isinstance(message, OSError) and not isinstance(message, DeviceError):
        return os_error_text(message, locale)
    return str(message)


def value_reason(error: Exception) -> str:
    """The reason an exception gives, kept as a catalogue sentence when it is one (a
    ValueError raised with one Localized, e.g. by the time parsers or a key check), else its
    str() — to pass on to another error or to `click.BadParameter`."""
    reason = error.args[0] if len(error.args) == 1 else None
    return reason if isinstance(reason, Localized) else str(error)


def _render(key: str, locale: Locale, fields: dict[str, object]) -> str:
    return text(key, locale, **{name: localize(value, locale) if isinstance(
        value, Localized | StationError | OSError) else value for name, value in fields.items()})


class StationError(Exception):
    """Base of every error the gate station raises on purpose.

    `StationError(message)` keeps a ready sentence (as it was given, in every locale);
    `StationError(key="ledger.missing", path=...)` or `StationError(Localized(...))` carries
    a catalogue sentence that `in_locale` renders."""

    def __init__(self, *args: object, key: str | None = None, **fields: object) -> None:
        if key is not None:
            args = (Localized(key, **fields), *args)
        super().__init__(*args)

    @property
    def message(self) -> object:
        """The error's message object (a Localized when it has one), for re-raising."""
        return self.args[0] if len(self.args) == 1 else str(self)

    def in_locale(self, locale: Locale) -> str:
        if len(self.args) == 1:
            return localize(self.args[0], locale)
        return str(self)


class ConfigError(StationError, ValueError):
    """config.yaml (or a file it names) is not valid; `problems` lists `FILE:KEY: what is wrong`
    (each a str in English, a Localized where the catalogue has the sentence)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def in_locale(self, locale: Locale) -> str:
        return "\n".join(localize(problem, locale) for problem in self.problems)
