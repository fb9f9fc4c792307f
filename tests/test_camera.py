"""Camera scanner over the fake camera: decoding, hold-off, unplug and reopen with backoff."""

from __future__ import annotations

import pytest

from drivers.camera import CameraScanner
from drivers.errors import ScannerError
from drivers.fake_camera import FakeCamera
from drivers.holdoff import HoldOff
from station.clock import VirtualClock


def make(clock: VirtualClock, **kwargs: object) -> tuple[FakeCamera, CameraScanner]:
    camera = FakeCamera(sleep=clock.sleep)
    scanner = CameraScanner(camera.open, sleep=clock.sleep, monotonic=clock.monotonic,
                            **kwargs)  # type: ignore[arg-type]
    return camera, scanner


def test_a_code_in_view_is_read(clock: VirtualClock) -> None:
    camera, scanner = make(clock)
    camera.show_text("THP1:HELLO")
    assert scanner.scan(1.0) == "THP1:HELLO"


def test_nothing_in_view_times_out_at_the_frame_rate(clock: VirtualClock) -> None:
    camera, scanner = make(clock)
    assert scanner.scan(1.0) is None
    assert 14 <= camera.frames_read <= 17  # 15 fps: it waits for frames, it does not spin


def test_a_held_code_is_reported_once_per_holdoff_window(clock: VirtualClock) -> None:
    camera, scanner = make(clock, holdoff_s=3.0)
    camera.show_text("THP1:SAME")
    assert scanner.scan(1.0) == "THP1:SAME"
    assert scanner.scan(2.5) is None  # still held: not a new person
    assert scanner.scan(1.0) == "THP1:SAME"  # past 3 s: reported again


def test_holdoff_tracks_codes_separately() -> None:
    holdoff = HoldOff(3.0)
    assert holdoff.is_new("a", 0.0)
    assert holdoff.is_new("b", 0.5)
    assert not holdoff.is_new("a", 2.9)
    assert holdoff.is_new("a", 3.1)


def test_unplugged_camera_is_a_fault_then_reopened_with_backoff(clock: VirtualClock) -> None:
    camera, scanner = make(clock)
    camera.show_text("THP1:BACK")
    assert scanner.scan(0.2) == "THP1:BACK"
    camera.unplug()
    with pytest.raises(ScannerError, match="stopped delivering"):
        scanner.scan(0.2)
    assert scanner.fault is not None
    attempts = []
    for _ in range(4):
        before = clock.monotonic()
        with pytest.raises(ScannerError, match="could not be opened"):
            scanner.scan(0.2)
        attempts.append(clock.monotonic() - before)
    # each attempt waits longer: 0.5, 1, 2, 4 s, … (sleeping, not spinning)
    assert attempts == sorted(attempts) and attempts[-1] >= 4.0
    camera.plug()
    camera.show_text("THP1:AGAIN")
    assert scanner.scan(1.0) == "THP1:AGAIN"
    assert scanner.fault is None
    assert camera.opens >= 6


def test_backoff_is_capped(clock: VirtualClock) -> None:
    camera, scanner = make(clock)
    camera.unplug()
    for _ in range(12):
        with pytest.raises(ScannerError):
            scanner.scan(0.1)
    before = clock.monotonic()
    with pytest.raises(ScannerError):
        scanner.scan(0.1)
    assert clock.monotonic() - before <= 10.0


def test_image_files_can_be_shown(tmp_path: object, clock: VirtualClock) -> None:
    from pathlib import Path

    from station.keys import write_qr_png

    path = Path(str(tmp_path)) / "code.png"
    write_qr_png("THP1:FROM-FILE", path, scale=4)
    camera, scanner = make(clock)
    camera.show_image(str(path))
    assert scanner.scan(1.0) == "THP1:FROM-FILE"
