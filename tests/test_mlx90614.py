"""MLX90614 driver against the fake SMBus: bus-level reads, PEC, every fault, measure()."""

from __future__ import annotations

import pytest

from drivers.errors import ThermometerError
from drivers.fake_smbus import FakeSMBus, celsius_to_raw
from drivers.mlx90614 import (
    MLX90614,
    REG_EMISSIVITY,
    REG_TA,
    REG_TOBJ1,
    BusError,
    Compensation,
    ErrorFlagError,
    InvalidReadingError,
    OutOfRangeError,
    PecError,
    StuckSensorError,
    crc8,
    raw_to_celsius,
)
from station.clock import VirtualClock
from tests.support import default_measure_settings


def sensor(bus: FakeSMBus, clock: VirtualClock, **settings: object) -> MLX90614:
    return MLX90614(bus, settings=default_measure_settings(**settings),
                    sleep=clock.sleep, monotonic=clock.monotonic)


def test_crc8_and_conversion_match_the_datasheet_vector() -> None:
    assert crc8(bytes([0xB4, 0x07, 0xB5, 0xD2, 0x3A])) == 0x30
    assert raw_to_celsius(0x3AD2) == pytest.approx(28.01, abs=0.005)


def test_reads_are_one_combined_transaction_with_repeated_start(clock: VirtualClock) -> None:
    seen: list[tuple[int, int, int]] = []

    class RecordingBus(FakeSMBus):
        def i2c_rdwr(self, *messages: object) -> None:
            seen.extend((m.addr, m.flags, m.len) for m in messages)  # type: ignore[attr-defined]
            super().i2c_rdwr(*messages)

    bus = RecordingBus(noise_lsb=0)
    bus.object_c = 36.6
    assert sensor(bus, clock).object_temperature() == pytest.approx(36.6, abs=0.011)
    assert seen == [(0x5A, 0, 1), (0x5A, 1, 3)]  # write cmd, then read LSB MSB PEC


def test_ambient_and_object_registers(clock: VirtualClock) -> None:
    bus = FakeSMBus(noise_lsb=0)
    bus.object_c, bus.ambient_c = 33.3, 18.5
    thermometer = sensor(bus, clock)
    assert thermometer.object_temperature() == pytest.approx(33.3, abs=0.011)
    assert thermometer.ambient_temperature() == pytest.approx(18.5, abs=0.011)


@pytest.mark.parametrize(
    ("fault", "error"),
    [("pec", PecError), ("error-flag", ErrorFlagError), ("0xffff", InvalidReadingError),
     ("oserror-121", BusError), ("oserror-5", BusError)],
)
def test_persistent_fault_raises_its_own_error_never_a_number(
        fault: str, error: type[ThermometerError], clock: VirtualClock) -> None:
    bus = FakeSMBus()
    bus.inject(fault, times=None)  # type: ignore[arg-type]
    thermometer = sensor(bus, clock)
    with pytest.raises(error):
        thermometer.object_temperature()
    assert bus.transactions == thermometer.retries + 1  # bounded retries


@pytest.mark.parametrize("fault", ["pec", "error-flag", "0xffff", "oserror-121", "oserror-5"])
def test_transient_fault_is_retried_and_the_next_good_read_returned(
        fault: str, clock: VirtualClock) -> None:
    bus = FakeSMBus(noise_lsb=0)
    bus.object_c = 36.5
    bus.inject(fault, times=1)  # type: ignore[arg-type]
    assert sensor(bus, clock).object_temperature() == pytest.approx(36.5, abs=0.011)
    assert bus.transactions == 2


def test_error_codes_of_bus_errors_are_named(clock: VirtualClock) -> None:
    bus = FakeSMBus()
    bus.inject("oserror-121", times=None)
    with pytest.raises(BusError, match="EREMOTEIO"):
        sensor(bus, clock).ambient_temperature()


def test_out_of_range_values_are_rejected(clock: VirtualClock) -> None:
    bus = FakeSMBus(noise_lsb=0)
    bus.ambient_c = 130.0  # above the −40…125 °C ambient range
    with pytest.raises(OutOfRangeError):
        sensor(bus, clock).ambient_temperature()
    bus.ambient_c, bus.object_c = 20.0, 400.0  # above the −70…380 °C object range
    with pytest.raises(OutOfRangeError):
        sensor(bus, clock).object_temperature()


def test_a_stuck_sensor_is_detected(clock: VirtualClock) -> None:
    bus = FakeSMBus(noise_lsb=1)
    bus.object_c = 36.5
    thermometer = sensor(bus, clock, stuck_reads=20)
    for _ in range(30):
        thermometer.object_temperature()  # real noise: never stuck
    bus.inject("stuck", times=None)
    with pytest.raises(StuckSensorError):
        for _ in range(30):
            thermometer.object_temperature()


def test_wrong_address_is_a_bus_error(clock: VirtualClock) -> None:
    thermometer = MLX90614(FakeSMBus(address=0x5B), 0x5A, settings=default_measure_settings(),
                           sleep=clock.sleep, monotonic=clock.monotonic)
    with pytest.raises(BusError):
        thermometer.object_temperature()


def test_read_word_data_answers_like_the_part() -> None:
    bus = FakeSMBus(noise_lsb=0)
    bus.ambient_c = 25.0
    assert bus.read_word_data(0x5A, REG_TA) == celsius_to_raw(25.0)


def test_emissivity_is_erased_then_written_with_pec(clock: VirtualClock) -> None:
    bus = FakeSMBus()
    thermometer = sensor(bus, clock)
    assert thermometer.emissivity() == pytest.approx(1.0)
    thermometer.set_emissivity(0.98)
    assert bus.eeprom[REG_EMISSIVITY] == round(65535 * 0.98)
    assert thermometer.emissivity() == pytest.approx(0.98, abs=1e-4)
    assert clock.monotonic() >= 0.02  # waited after erase and after write


def test_emissivity_write_without_erase_would_corrupt_so_the_driver_erases() -> None:
    bus = FakeSMBus()
    word = round(65535 * 0.98)
    lsb, msb = word & 0xFF, word >> 8
    bus.write_i2c_block_data(0x5A, REG_EMISSIVITY, [lsb, msb, crc8(bytes([0xB4, 0x24, lsb, msb]))])
    assert bus.eeprom[REG_EMISSIVITY] != word  # ORed into 0xFFFF: what erasing first prevents


def test_emissivity_out_of_range_is_refused(clock: VirtualClock) -> None:
    with pytest.raises(ValueError):
        sensor(FakeSMBus(), clock).set_emissivity(1.5)


def test_measure_waits_for_a_person_then_returns_the_median(clock: VirtualClock) -> None:
    bus = FakeSMBus(noise_lsb=0)
    bus.readings.extend([22.0, 22.0, 36.4, 36.9, 36.5, 36.6, 36.5])
    result = sensor(bus, clock, samples=5).measure(timeout_s=5)
    assert result is not None
    assert result.body_c == pytest.approx(36.5, abs=0.011)
    assert len(result.samples_c) == 5
    assert result.ambient_c == pytest.approx(22.0, abs=0.011)


def test_measure_applies_ambient_compensation(clock: VirtualClock) -> None:
    bus = FakeSMBus(noise_lsb=0)
    bus.object_c, bus.ambient_c = 35.0, 5.0  # a cold winter gate
    comp = Compensation(offset_c=0.5, ambient_coefficient=0.05, ambient_ref_c=25.0)
    result = sensor(bus, clock, compensation=comp).measure(timeout_s=5)
    assert result is not None
    assert result.body_c == pytest.approx(35.0 + 0.5 + 0.05 * 20, abs=0.011)
    assert result.object_c == pytest.approx(35.0, abs=0.011)


def test_measure_times_out_with_none_when_nobody_is_there(clock: VirtualClock) -> None:
    bus = FakeSMBus()
    assert sensor(bus, clock).measure(timeout_s=3) is None
    assert 3 <= clock.monotonic() < 3.2


def test_measure_raises_on_a_sensor_fault(clock: VirtualClock) -> None:
    bus = FakeSMBus()
    bus.object_c = 36.5
    bus.inject("0xffff", times=None, register=REG_TOBJ1)
    with pytest.raises(InvalidReadingError):
        sensor(bus, clock).measure(timeout_s=3)


def test_a_missing_bus_is_a_fault_on_every_read_not_a_crash(clock: VirtualClock) -> None:
    thermometer = MLX90614(99, settings=default_measure_settings(), sleep=clock.sleep,
                           monotonic=clock.monotonic)  # no /dev/i2c-99
    with pytest.raises(BusError, match="i2c-99"):
        thermometer.object_temperature()
    with pytest.raises(BusError, match="i2c-99"):
        thermometer.measure(timeout_s=1)
    thermometer.close()
