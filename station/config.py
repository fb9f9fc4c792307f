"""config.yaml → typed, frozen settings, validated once at start.

Unknown keys and wrong types are errors. Every problem is reported as
`FILE:KEY: what is wrong` (ConfigError.problems), never a traceback.

Lookup order for the file: `--config PATH`, else `./config.yaml`, else
`/etc/gate-station/config.yaml`. The environment variable GATE_STATION_DRIVERS=fake (or
`drivers: fake` in the file) selects every fake driver.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from station.errors import ConfigError
from station.ids import STATION_ID_RULE, is_station_id
from station.problems import problems

DEFAULT_PATHS = (Path("config.yaml"), Path("/etc/gate-station/config.yaml"))
DRIVERS_ENV = "GATE_STATION_DRIVERS"

Pin = Annotated[int, Field(ge=0, le=27)]
Seconds = Annotated[float, Field(gt=0, le=3600)]
SectionT = TypeVar("SectionT", bound=BaseModel)


def _default(section: type[SectionT]) -> Any:
    """A section's default when config.yaml leaves it out: the section with every field at its
    default, made without validation (`model_construct`), because validating it would build
    that section's own validator, the cost `defer_build` avoids. The defaults are constants of
    this module; tests/test_config.py checks each equals the validated `Section()`."""
    return Field(default_factory=section.model_construct)


class Section(BaseModel):
    # defer_build: a model's validator is built the first time it validates, not when this
    # module is imported. Validating a Config builds one validator for the whole tree, and a
    # command that never validates a section on its own (every officer command) does not pay
    # for building one per section (README, "Start-up and memory").
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class StationSettings(Section):
    id: str = "gate-01"
    enterprise: str = ""
    locale: Literal["zh_CN", "en"] = "zh_CN"

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not is_station_id(value):
            raise ValueError(f"must be {STATION_ID_RULE}")
        return value


class CompensationSettings(Section):
    offset_c: float = 0.0
    ambient_coefficient: Annotated[float, Field(ge=-1, le=1)] = 0.0
    ambient_ref_c: float = 25.0


class ThermometerSettings(Section):
    driver: Literal["mlx90614", "fake"] | None = None
    bus: Annotated[int, Field(ge=0)] = 1
    address: Annotated[int, Field(ge=0x03, le=0x77)] = 0x5A
    emissivity: Annotated[float, Field(ge=0.1, le=1.0)] = 0.98
    samples: Annotated[int, Field(ge=1, le=50)] = 5
    sample_interval_s: Annotated[float, Field(ge=0, le=1)] = 0.02
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    compensation: CompensationSettings = _default(CompensationSettings)


class CameraSettings(Section):
    source: int | str = 0
    width: Annotated[int, Field(ge=160, le=4096)] = 640
    height: Annotated[int, Field(ge=120, le=4096)] = 480


class SerialSettings(Section):
    port: str = "/dev/serial0"
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600


class ScannerSettings(Section):
    type: Literal["camera", "serial"] = "camera"
    driver: Literal["real", "fake"] | None = None
    holdoff_s: Seconds = 3.0
    decoders: tuple[Literal["zxing", "zbar", "zxing-smooth"], ...] = (
        "zxing", "zbar", "zxing-smooth")
    camera: CameraSettings = _default(CameraSettings)
    serial: SerialSettings = _default(SerialSettings)

    @field_validator("decoders", mode="before")
    @classmethod
    def _decoders(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("needs at least one decoder")
            return tuple(value)
        return value


class RelaySettings(Section):
    pin: Pin = 17
    active_high: bool = False


class DoorContactSettings(Section):
    """A reed switch on the gate's door (to GND, internal pull-up; closed = shut)."""

    pin: Pin
    held_open_s: Annotated[float, Field(gt=0, le=3600)] = 30.0


class OutputSettings(Section):
    driver: Literal["real", "fake"] | None = None
    pin_factory: Literal["lgpio", "rpigpio", "pigpio", "native"] | None = None
    relay: RelaySettings = _default(RelaySettings)
    green_led: Pin = 27
    red_led: Pin = 22
    buzzer: Pin = 23
    exit_button: Pin | None = 24
    door_contact: DoorContactSettings | None = None
    open_seconds: Annotated[float, Field(gt=0, le=60)] = 3.0

    @model_validator(mode="after")
    def _distinct_pins(self) -> OutputSettings:
        pins = {
            "relay.pin": self.relay.pin, "green_led": self.green_led, "red_led": self.red_led,
            "buzzer": self.buzzer, "exit_button": self.exit_button,
            "door_contact.pin": self.door_contact.pin if self.door_contact else None,
        }
        seen: dict[int, str] = {}
        for name, pin in pins.items():
            if pin is None:
                continue
            if pin in seen:
                raise ValueError(f"GPIO{pin} is used by both {seen[pin]} and {name}")
            seen[pin] = name
        return self


Origin = Literal["outside-municipality", "risk-district", "key-population"]
ORIGIN_CODES: dict[str, int] = {"outside-municipality": 1, "risk-district": 2, "key-population": 3}


class ReturningPolicy(Section):
    window: tuple[dt.date, dt.date] = (dt.date(2021, 1, 28), dt.date(2021, 3, 8))
    origins: tuple[Origin, ...] = ("outside-municipality", "risk-district", "key-population")
    nat_max_age_days: Annotated[int, Field(ge=0, le=60)] = 7
    followup_days: tuple[int, ...] = (7, 14)
    followup_grace_days: Annotated[int, Field(ge=0, le=14)] = 1
    monitoring_days: Annotated[int, Field(ge=0, le=60)] = 14
    rules_apply_days: Annotated[int, Field(ge=0, le=120)] = 21
    during_monitoring: Literal["admit", "deny"] = "admit"

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) == 2:
            return tuple(dt.date.fromisoformat(v) if isinstance(v, str) else v for v in value)
        return value

    @field_validator("origins", "followup_days", mode="before")
    @classmethod
    def _tuple(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _window_order(self) -> ReturningPolicy:
        if self.window[0] > self.window[1]:
            raise ValueError("window: first day is after the last day")
        return self


class PolicySettings(Section):
    fever_threshold_c: Annotated[float, Field(ge=35.0, le=40.0)] = 37.3
    recheck: Annotated[int, Field(ge=0, le=5)] = 1
    plausible_c: tuple[float, float] = (34.0, 42.5)
    timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
    color: tuple[Literal["green", "yellow", "red"], ...] = ("green",)
    skew_s: Annotated[int, Field(ge=0, le=3600)] = 300
    returning: ReturningPolicy = _default(ReturningPolicy)

    @field_validator("plausible_c", "color", mode="before")
    @classmethod
    def _tuple(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _plausible_order(self) -> PolicySettings:
        low, high = self.plausible_c
        if low >= high:
            raise ValueError("plausible_c: low must be below high")
        return self

    def with_overrides(self, overrides: dict[str, Any], label: str = "rules") -> PolicySettings:
        """This policy with `overrides` laid over it (the town's rules, a scenario's policy:).

        Keys are nested like config.yaml's `policy:` section (`{"returning": {"window": …}}`)
        or dotted (`{"returning.window": …}`); a key not given keeps this policy's value.
        Raises ConfigError naming `label` and the first bad key, e.g. `rules.recheck: …`.
        """
        merged = self.model_dump()
        for key, value in _nest(overrides).items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        try:
            return PolicySettings.model_validate(merged)
        except ValidationError as error:
            raise ConfigError(problems(error, label, separator=".")[:1]) from None


def _nest(rules: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys (`returning.window`) expanded into nested mappings."""
    nested: dict[str, Any] = {}
    for key, value in rules.items():
        target = nested
        *parents, leaf = str(key).split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        if isinstance(value, dict) and isinstance(target.get(leaf), dict):
            target[leaf].update(value)
        else:
            target[leaf] = value
    return nested


class LedgerSettings(Section):
    path: str = "/var/lib/gate-station/ledger.db"
    retention_days: Annotated[int, Field(ge=1)] = 30
    max_mb: Annotated[int, Field(ge=1)] = 2048


class TownSettings(Section):
    url: str | None = None
    token_file: str | None = None
    batch: Annotated[int, Field(ge=1, le=5000)] = 200
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 20.0
    heartbeat_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    bundle_s: Annotated[float, Field(gt=0, le=86400)] = 300.0
    backoff_base_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    backoff_cap_s: Annotated[float, Field(gt=0, le=3600)] = 300.0
    idle_s: Annotated[float, Field(gt=0, le=60)] = 1.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// on a test network)")
        return value


class BundleSettings(Section):
    path: str = "/var/lib/gate-station/bundle.json"


class Config(Section):
    station: StationSettings = _default(StationSettings)
    drivers: Literal["real", "fake"] = "real"
    thermometer: ThermometerSettings = _default(ThermometerSettings)
    scanner: ScannerSettings = _default(ScannerSettings)
    outputs: OutputSettings = _default(OutputSettings)
    policy: PolicySettings = _default(PolicySettings)
    ledger: LedgerSettings = _default(LedgerSettings)
    bundle: BundleSettings = _default(BundleSettings)
    town: TownSettings = _default(TownSettings)

    def uses_fake(self, device: Literal["thermometer", "scanner", "outputs"]) -> bool:
        """Whether `device` runs on its fake: per-device setting, else env, else `drivers`."""
        own = getattr(self, device).driver
        if own is not None:
            return bool(own == "fake")
        return os.environ.get(DRIVERS_ENV, self.drivers) == "fake"


def validate(data: Any, source: str) -> Config:
    """A Config from parsed YAML, or ConfigError listing every problem as `source:KEY: why`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: the top level must be a mapping of sections"])
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(problems(error, source)) from None


def parse_yaml(text: str) -> Any:
    """`yaml.safe_load(text)`, parsed by libyaml when PyYAML has it (about 20× faster on
    config.yaml: 0.6 ms instead of 14 ms). libyaml's error texts differ from PyYAML's, so a
    text libyaml rejects is parsed again by the pure-Python loader, whose error is the one
    raised: the messages stay exactly those of `yaml.safe_load`."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return yaml.load(text, Loader=loader)  # CSafeLoader: the safe loader, in C
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def find_config(path: str | os.PathLike[str] | None) -> Path | None:
    """The config file to use, or None when none of the default places has one."""
    if path is not None:
        return Path(path)
    for candidate in DEFAULT_PATHS:
        if candidate.is_file():
            return candidate
    return None


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the config file (see module doc for the lookup order).

    With no file anywhere, the defaults apply (on fakes if GATE_STATION_DRIVERS=fake).
    """
    found = find_config(path)
    if found is None:
        return validate({}, "(defaults)")
    try:
        text = found.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{found}: cannot read: {error.strerror or error}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{found}: not UTF-8 text"]) from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError([f"{found}{where}: not valid YAML: {problem}"]) from None
    return validate(data, str(found))
