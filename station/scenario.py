"""Scenario files for `gate-station simulate` (../shared/spec/scenario.md): parse and validate.

A problem is reported as one line: `FILE: event N: KEY: what is wrong` (ScenarioError).
Events are counted from 1, as a person counts them in the file: the first event is event 1.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from station.clock import CST
from station.codes import Origin
from station.errors import Localized, StationError
from station.problems import problems
from station.timeparse import parse_duration
from station.yamlfile import YamlError, load_yaml_file

Device = Literal["thermometer", "camera", "ledger"]
Reading = float | Literal["pec-error", "error-flag", "0xFFFF", "io-error"]


class ScenarioError(StationError):
    """A scenario file is not valid; the message is one line naming file, event and problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReturnedSpec(_Strict):
    date: dt.date
    origin: Literal["outside-municipality", "risk-district", "key-population"]

    @property
    def origin_code(self) -> Origin:
        return Origin.from_word(self.origin)


class CodeSpec(_Strict):
    """A code made and signed for the run by the run's own test issuer."""

    sub: str
    name: str | None = None
    color: Literal["green", "yellow", "red"]  # required: a code has a colour, none is implied
    nat: dt.date | None = None
    returned: ReturnedSpec | None = None
    iat: str = "-1h"
    exp: str = "+23h"
    iss: str = "500118"
    org: str | None = None

    @field_validator("iat", "exp")
    @classmethod
    def _relative(cls, value: str) -> str:
        parse_duration(value)
        return value


class PowerCut(_Strict):
    """The station loses power and boots again; its clock comes back `clock` off (e.g.
    "-24h"), unsynchronized, until an `ntp` event."""

    clock: str = "0s"

    @field_validator("clock")
    @classmethod
    def _offset(cls, value: str) -> str:
        parse_duration(value)
        return value


class Event(_Strict):
    at: str
    code: CodeSpec | None = None
    qr: str | None = None
    temperature: Reading | list[Reading] | None = None
    fault: Device | None = None
    recover: Device | None = None
    exit: bool | None = None
    power_cut: PowerCut | None = None
    ntp: bool | None = None

    @model_validator(mode="after")
    def _one_thing(self) -> Event:
        if self.code is not None and self.qr is not None:
            raise ValueError(Localized("scenario.code_and_qr"))
        kinds = [self.code is not None or self.qr is not None or self.temperature is not None,
                 self.fault is not None, self.recover is not None, bool(self.exit),
                 self.power_cut is not None, bool(self.ntp)]
        if sum(kinds) != 1:
            raise ValueError(Localized("scenario.one_thing"))
        return self

    @property
    def readings(self) -> list[Reading]:
        if self.temperature is None:
            return []
        return list(self.temperature) if isinstance(self.temperature, list) else [
            self.temperature]


class Scenario(_Strict):
    start: dt.datetime
    station: str | None = None
    policy: dict[str, Any] = {}
    trust: dict[str, Any] | None = None
    revocations: list[dict[str, Any]] = []
    events: list[Event]

    @field_validator("start")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        return value if value.tzinfo else value.replace(tzinfo=CST)

    def event_times(self, source: str) -> list[dt.datetime]:
        """The absolute time of each event (HH:MM:SS on the start date, +N s, or ISO)."""
        times: list[dt.datetime] = []
        previous = self.start
        start_cst = self.start.astimezone(CST)
        for index, event in enumerate(self.events):
            text = event.at.strip()
            try:
                if text.startswith("+"):
                    instant = previous + dt.timedelta(seconds=parse_duration(text))
                elif len(text) <= 8 and text.count(":") == 2:
                    clock = dt.time.fromisoformat(text)
                    instant = dt.datetime.combine(start_cst.date(), clock, CST)
                else:
                    instant = dt.datetime.fromisoformat(text)
                    if instant.tzinfo is None:
                        instant = instant.replace(tzinfo=CST)
            except ValueError:
                raise ScenarioError(key="scenario.bad_at", source=source, number=index + 1,
                                    value=repr(text)) from None
            if instant < previous:
                raise ScenarioError(key="scenario.at_before", source=source,
                                    number=index + 1, value=repr(text))
            times.append(instant)
            previous = instant
        return times


def _location(loc: tuple[Any, ...]) -> str:
    """`event N: KEY` (a Localized: 第 N 个事件 in zh_CN), or the dotted key outside events."""
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] == "events":
        rest = [p for p in parts[2:] if not p.startswith(("function-", "float", "literal", "list"))]
        number = int(parts[1]) + 1 if parts[1].isdigit() else parts[1]  # counted from 1
        if rest:
            return Localized("scenario.event_key", number=number, place=".".join(rest))
        return Localized("scenario.event", number=number)
    return ".".join(parts) or "(top level)"


def load_scenario(path: str | Path) -> tuple[Scenario, list[dt.datetime]]:
    """Parse and validate a scenario file; ScenarioError (one line) when it is not valid."""
    source = str(path)
    try:
        data = load_yaml_file(path)
    except YamlError as error:
        raise ScenarioError(error.message) from None
    if not isinstance(data, dict):
        raise ScenarioError(key="scenario.not_mapping", source=source)
    if isinstance(data.get("start"), str):
        try:
            data["start"] = dt.datetime.fromisoformat(data["start"])
        except ValueError:
            raise ScenarioError(key="scenario.bad_start", source=source,
                                value=repr(data["start"])) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        found = problems(error, source, separator=": ", key=_location)
        # a misspelt key also makes the right one "missing": name the misspelling first
        first = next((line for line in found if line.endswith(": unknown key")), found[0])
        raise ScenarioError(first) from None
    return scenario, scenario.event_times(source)
