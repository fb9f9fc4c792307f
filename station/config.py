"""config.yaml → typed, frozen settings, validated once at start.

Unknown keys and wrong types are errors. Every problem is reported as
`FILE:KEY: what is wrong` (ConfigError.problems), never a traceback.

Lookup order for the file: `--config PATH`, else `./config.yaml`, else
`/etc/gate-station/config.yaml`. Relative paths in the file (`ledger.path`, `bundle.path`,
`town.token_file`) are taken from the config file's own folder, not the current directory,
and are absolute once loaded, so every message names the file exactly.

The environment variable GATE_STATION_DRIVERS overrides `drivers:`. It accepts exactly `fake`
or `real`, lowercase like every value in config.yaml; anything else (`FAKE`, an empty value)
is refused with a one-line ConfigError rather than quietly meaning "real" — on a Pi that
would click the real relay. Unset, `drivers:` decides.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from station.bundle_keys import check_pinned_keys
from station.errors import ConfigError, Localized, value_reason
from station.ids import STATION_ID_RULE, is_station_id
from station.messages import Locale
from station.problems import problems
from station.yamlfile import YamlError, load_yaml_file

if TYPE_CHECKING:
    from drivers.camera import CaptureSettings

# The station uses no pydantic plugins. Looking for them reads the metadata of every installed
# package the first time a model validates (5–20 ms of each command's start-up on this machine,
# README "Start-up and memory"); pydantic skips the search when this is set. An operator who
# does install a plugin can still set the variable to something else.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

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
            raise ValueError(Localized("config.station_id", rule=STATION_ID_RULE))
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
    """The camera and how it is set up for reading phone screens (drivers/camera.py applies
    these through OpenCV's V4L2 properties; `auto` leaves a control to the camera)."""

    source: int | str = 0
    width: Annotated[int, Field(ge=160, le=4096)] = 640
    height: Annotated[int, Field(ge=120, le=4096)] = 480
    fps: Annotated[float, Field(gt=0, le=120)] = 15.0
    fourcc: Literal["YUYV", "MJPG"] | None = "YUYV"  # uncompressed: no JPEG blocks on modules
    exposure: Literal["auto"] | Annotated[float, Field(gt=0, le=100000)] = "auto"  # × 100 µs
    gain: Literal["auto"] | Annotated[float, Field(ge=0, le=10000)] = "auto"
    focus: Literal["auto"] | Annotated[float, Field(ge=0, le=10000)] = "auto"
    buffers: Annotated[int, Field(ge=1, le=8)] = 1

    def capture_settings(self) -> CaptureSettings:
        """What the camera driver is told when it opens (imported here: the officer
        commands load this module and must not load the camera's imaging libraries)."""
        from drivers.camera import CaptureSettings

        def manual(value: float | str) -> float | None:
            return None if value == "auto" else float(value)

        return CaptureSettings(width=self.width, height=self.height, fps=self.fps,
                               fourcc=self.fourcc, exposure=manual(self.exposure),
                               gain=manual(self.gain), focus=manual(self.focus),
                               buffers=self.buffers)


class SerialSettings(Section):
    port: str = "/dev/serial0"
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600


class ScannerSettings(Section):
    type: Literal["camera", "serial"] = "camera"
    driver: Literal["real", "fake"] | None = None
    holdoff_s: Seconds = 3.0
    decoders: tuple[Literal["zxing", "zxing-smooth", "zxing-median", "zbar"], ...] = (
        "zxing", "zxing-smooth", "zxing-median")
    camera: CameraSettings = _default(CameraSettings)
    serial: SerialSettings = _default(SerialSettings)

    @field_validator("decoders", mode="before")
    @classmethod
    def _decoders(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError(Localized("config.no_decoder"))
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
                raise ValueError(Localized("config.pin_twice", pin=pin, first=seen[pin],
                                                 second=name))
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
            raise ValueError(Localized("config.window_order"))
        return self


class VehiclePolicy(Section):
    """registration.md's vehicle rules (seed 四(一): vehicles registered and disinfected)."""

    require_disinfection: bool = True
    cold_chain_policy: Literal["admit", "deny"] = "admit"


class PolicySettings(Section):
    fever_threshold_c: Annotated[float, Field(ge=35.0, le=40.0)] = 37.3
    recheck: Annotated[int, Field(ge=0, le=5)] = 1
    plausible_c: tuple[float, float] = (34.0, 42.5)
    timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
    color: tuple[Literal["green", "yellow", "red"], ...] = ("green",)
    skew_s: Annotated[int, Field(ge=0, le=3600)] = 300
    max_code_lifetime_h: Annotated[float, Field(gt=0, le=8760)] = 168
    returning: ReturningPolicy = _default(ReturningPolicy)
    vehicles: VehiclePolicy = _default(VehiclePolicy)

    @field_validator("plausible_c", "color", mode="before")
    @classmethod
    def _tuple(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _plausible_order(self) -> PolicySettings:
        low, high = self.plausible_c
        if low >= high:
            raise ValueError(Localized("config.plausible_order"))
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
    # names and phone numbers go to the town masked (张*, 138****5678) unless this is true
    # (registration.md, Privacy); the station's own ledger keeps them whole either way
    send_contact_details: bool = False
    batch: Annotated[int, Field(ge=1, le=5000)] = 200
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 20.0
    heartbeat_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    bundle_s: Annotated[float, Field(gt=0, le=86400)] = 300.0
    backoff_base_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    backoff_cap_s: Annotated[float, Field(gt=0, le=3600)] = 300.0
    idle_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    blocked_retry_s: Annotated[float, Field(gt=0, le=86400)] = 600.0
    once_give_up_s: Annotated[float, Field(gt=0, le=86400)] = 120.0
    bundle_keys: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if value.startswith("https://"):
            return value
        if not value.startswith("http://"):
            raise ValueError(Localized("config.https"))
        if not is_loopback_url(value):
            raise ValueError(Localized("config.http_loopback"))
        return value

    @field_validator("bundle_keys", mode="before")
    @classmethod
    def _bundle_keys(cls, value: Any) -> Any:
        if isinstance(value, list):
            value = tuple(value)
        if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            try:
                check_pinned_keys(value)
            except ValueError as error:
                raise ValueError(Localized("config.bundle_key",
                                           error=value_reason(error))) from None
        return value


def is_loopback_url(url: str) -> bool:
    """Whether an http(s) URL names a loopback host: localhost, 127.0.0.0/8 or ::1."""
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HandoverSettings(Section):
    """The Unix socket on which the console asks the gate for the next code and reading
    (station/handover.py); null switches hand-over off."""

    socket: str | None = "/run/gate-station/handover.sock"


class BundleSettings(Section):
    path: str = "/var/lib/gate-station/bundle.json"


class ConsoleSettings(Section):
    """`gate-station console` (the station console, DESIGN.md)."""

    listen: str = "127.0.0.1:8090"  # HOST:PORT; LAN only behind TLS (README)
    accounts_path: str = "/var/lib/gate-station/console.db"  # accounts and sessions
    session_idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 60
    session_max_hours: Annotated[int, Field(ge=1, le=24 * 7)] = 12
    secure_cookies: bool = False  # true when served over HTTPS (a TLS proxy in front)
    display_from: tuple[str, ...] = ()  # addresses that may open /display without a login
    display_seconds: Annotated[float, Field(ge=1, le=120)] = 8.0

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(Localized("config.host_port"))
        return value

    @field_validator("display_from", mode="before")
    @classmethod
    def _tuple(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


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
    handover: HandoverSettings = _default(HandoverSettings)
    console: ConsoleSettings = _default(ConsoleSettings)

    def uses_fake(self, device: Literal["thermometer", "scanner", "outputs"]) -> bool:
        """Whether `device` runs on its fake: per-device setting, else env, else `drivers`."""
        own = getattr(self, device).driver
        if own is not None:
            return bool(own == "fake")
        return (drivers_from_env() or self.drivers) == "fake"

    def with_paths_from(self, folder: Path) -> Config:
        """This config with its relative file paths taken from `folder` (made absolute)."""
        def absolute(value: str) -> str:
            return str(Path(os.path.abspath(folder / Path(value).expanduser())))

        town = self.town
        return self.model_copy(update={
            "ledger": self.ledger.model_copy(update={"path": absolute(self.ledger.path)}),
            "bundle": self.bundle.model_copy(update={"path": absolute(self.bundle.path)}),
            "town": town.model_copy(update={
                "token_file": absolute(town.token_file) if town.token_file else None}),
        })


def drivers_from_env() -> Literal["real", "fake"] | None:
    """GATE_STATION_DRIVERS: None when unset, else exactly `fake` or `real` (ConfigError for
    any other value, the empty one included)."""
    value = os.environ.get(DRIVERS_ENV)
    if value is None:
        return None
    if value == "fake":
        return "fake"
    if value == "real":
        return "real"
    raise ConfigError([Localized("config.drivers_env", name=DRIVERS_ENV, value=repr(value))])


def validate(data: Any, source: str) -> Config:
    """A Config from parsed YAML, or ConfigError listing every problem as `source:KEY: why`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Localized("config.top_level", source=source)])
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(problems(error, source)) from None


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
    drivers_from_env()  # a bad GATE_STATION_DRIVERS is refused before anything runs
    found = find_config(path)
    if found is None:
        return validate({}, "(defaults)")
    found = Path(os.path.abspath(found))
    try:
        data = load_yaml_file(found)
    except YamlError as error:
        raise ConfigError([error.message if isinstance(error.message, str) else str(error)]
                          ) from None
    return validate(data, str(found)).with_paths_from(found.parent)


def file_locale(path: str | Path) -> Locale:
    """`station.locale` of a config file read leniently (a duplicate key elsewhere keeps the
    locale), zh_CN when the file cannot be read or does not say: the language of the errors
    found in a config that could not be loaded."""
    from station.yamlfile import peek_yaml_file

    data = peek_yaml_file(path)
    station = data.get("station") if isinstance(data, dict) else None
    locale = station.get("locale") if isinstance(station, dict) else None
    if locale == "en":
        return "en"
    return "zh_CN"


def check_files(config: Config, source: str) -> None:
    """Files the config names that must already exist (`check-config` asks; ConfigError naming
    the key). The ledger and bundle are made by the station itself; the token file is not. The
    gate itself runs without one (it needs no town), so loading does not insist."""
    token = config.town.token_file
    if token is not None and not Path(token).is_file():
        raise ConfigError([Localized("config.token_file_missing", source=source, token=token)])
