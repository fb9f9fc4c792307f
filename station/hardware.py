"""Build the configured drivers, real or fake, from a Config.

This is the one place that decides which device class stands behind each role; the gate
loop, selftest and simulate take what it builds.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drivers.fake_smbus import FakeSMBus
from drivers.mlx90614 import MLX90614, Compensation, MeasureSettings
from drivers.outputs import GateOutputs, OutputPins
from drivers.protocols import Scanner
from station.config import Config
from station.errors import OutputError
from station.messages import text

log = logging.getLogger("gate-station.hardware")

if TYPE_CHECKING:
    from drivers.fake_camera import FakeCamera


@dataclass
class Fakes:
    """Handles on the fake devices, so a caller (selftest, simulate, tests) can drive them."""

    smbus: FakeSMBus | None = None
    camera: FakeCamera | None = None
    serial_port: Any = None
    pin_factory: Any = None


def on_fakes(config: Config) -> Config:
    """`config` with every device on its fake and the camera scanner, as `simulate` runs."""
    return config.model_copy(update={
        "drivers": "fake",
        "thermometer": config.thermometer.model_copy(update={"driver": "fake"}),
        "scanner": config.scanner.model_copy(update={"driver": "fake", "type": "camera"}),
        "outputs": config.outputs.model_copy(update={"driver": "fake"}),
    })


def measure_settings(config: Config) -> MeasureSettings:
    therm = config.thermometer
    comp = therm.compensation
    return MeasureSettings(
        samples=therm.samples,
        sample_interval_s=therm.sample_interval_s,
        plausible_c=config.policy.plausible_c,
        compensation=Compensation(comp.offset_c, comp.ambient_coefficient, comp.ambient_ref_c),
    )


def build_thermometer(
    config: Config,
    fakes: Fakes,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> MLX90614:
    therm = config.thermometer
    bus: int | FakeSMBus = therm.bus
    if config.uses_fake("thermometer"):
        fakes.smbus = FakeSMBus(therm.address)
        bus = fakes.smbus
    return MLX90614(bus, therm.address, retries=therm.retries,
                    settings=measure_settings(config), sleep=sleep, monotonic=monotonic)


def build_scanner(
    config: Config,
    fakes: Fakes,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Scanner:
    # Each scanner's driver is imported only when it is the one configured: a serial station
    # never loads numpy and the QR decoders (README, "Start-up and memory").
    scanner = config.scanner
    fake = config.uses_fake("scanner")
    if scanner.type == "serial":
        from drivers.serial_scanner import SerialScanner, open_serial_port

        if fake:
            fakes.serial_port = open_serial_port("loop://", scanner.serial.baudrate)
            port = fakes.serial_port
            return SerialScanner(lambda: port, holdoff_s=scanner.holdoff_s, sleep=sleep,
                                 monotonic=monotonic)
        settings = scanner.serial
        return SerialScanner(lambda: open_serial_port(settings.port, settings.baudrate),
                             holdoff_s=scanner.holdoff_s, sleep=sleep, monotonic=monotonic)
    from drivers.camera import CameraScanner, apply_settings, open_cv_capture

    if fake:
        from drivers.fake_camera import FakeCamera, FakeCapture

        fakes.camera = FakeCamera(frame_size=(scanner.camera.height, scanner.camera.width),
                                  fps=scanner.camera.fps, sleep=sleep)
        camera = fakes.camera

        def open_fake() -> FakeCapture:
            capture = camera.open()
            apply_settings(capture, scanner.camera.capture_settings())
            return capture

        return CameraScanner(open_fake, decoders=scanner.decoders, fps=scanner.camera.fps,
                             holdoff_s=scanner.holdoff_s, sleep=sleep, monotonic=monotonic)
    source, capture_settings = scanner.camera.source, scanner.camera.capture_settings()
    return CameraScanner(lambda: open_cv_capture(source, capture_settings),
                         decoders=scanner.decoders, fps=scanner.camera.fps,
                         holdoff_s=scanner.holdoff_s, sleep=sleep, monotonic=monotonic)


def output_pins(config: Config) -> OutputPins:
    out = config.outputs
    return OutputPins(
        relay=out.relay.pin, relay_active_high=out.relay.active_high, green_led=out.green_led,
        red_led=out.red_led, buzzer=out.buzzer, exit_button=out.exit_button,
        door_contact=out.door_contact.pin if out.door_contact else None,
        open_seconds=out.open_seconds,
    )


def pin_factory(config: Config, fakes: Fakes) -> Any:
    """gpiozero's MockFactory for fakes, the named real factory, or None (gpiozero's default)."""
    if config.uses_fake("outputs"):
        from gpiozero.pins.mock import MockFactory

        fakes.pin_factory = MockFactory()
        return fakes.pin_factory
    name = config.outputs.pin_factory
    if name is None:
        return None
    try:
        if name == "lgpio":
            from gpiozero.pins.lgpio import LGPIOFactory

            return LGPIOFactory()
        if name == "rpigpio":
            from gpiozero.pins.rpigpio import RPiGPIOFactory

            return RPiGPIOFactory()
        if name == "pigpio":
            from gpiozero.pins.pigpio import PiGPIOFactory

            return PiGPIOFactory()
        from gpiozero.pins.native import NativeFactory

        return NativeFactory()
    except (ImportError, OSError, RuntimeError) as error:
        raise OutputError(f"GPIO pin factory {name!r} is not available here: {error}") from error


def build_outputs(config: Config, fakes: Fakes) -> GateOutputs:
    """The gate's outputs on the configured pin factory.

    With no factory named, gpiozero tries lgpio, rpigpio, pigpio and native in turn and warns
    (`PinFactoryFallback`, several raw lines) for each that fails. Those warnings never reach
    the terminal: a factory that worked after fallbacks is logged at debug level; when none
    works, one OutputError line names what each attempt said."""
    from gpiozero.exc import PinFactoryFallback

    factory = pin_factory(config, fakes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PinFactoryFallback)
        try:
            outputs = GateOutputs(output_pins(config), pin_factory=factory)
        except OutputError as error:
            tried = [str(w.message) for w in caught if issubclass(w.category, PinFactoryFallback)]
            if not tried:
                raise
            raise OutputError(text("hw.no_pin_factory", config.station.locale,
                                   tried="; ".join(t.removeprefix("Falling back from ")
                                                   for t in tried))) from error
    for warning in caught:
        if issubclass(warning.category, PinFactoryFallback):
            log.debug("%s", warning.message)
        else:  # not ours to judge: pass it on as it came
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return outputs
