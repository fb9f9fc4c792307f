"""Camera scanner over the fake camera: decoding, hold-off, unplug and reopen with backoff."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


# --- newest frame, region hint -------------------------------------------------------------

def live(clock: VirtualClock, **kwargs: object) -> tuple[FakeCamera, CameraScanner]:
    camera = FakeCamera(sleep=clock.sleep, monotonic=clock.monotonic)
    scanner = CameraScanner(camera.open, sleep=clock.sleep, monotonic=clock.monotonic,
                            **kwargs)  # type: ignore[arg-type]
    return camera, scanner


def test_after_a_slow_decode_the_newest_frame_is_decoded_not_a_queued_one(
        clock: VirtualClock) -> None:
    camera, scanner = live(clock)
    scanner.read_frame()
    clock.sleep(0.5)  # a decode that took 0.5 s: 7 frames came meanwhile, 4 queued
    scanner.read_frame()
    newest_due = int(clock.monotonic() * camera.fps)
    assert camera.served[-1] >= newest_due - 1  # fresh, not the stale frame from 0.07 s
    assert len(camera.served) >= 5  # the queued ones were grabbed and dropped


def test_a_plain_reader_of_the_same_camera_gets_stale_frames(clock: VirtualClock) -> None:
    # The fake's queue is real: reading without the drain hands out a 0.4-s-old frame.
    camera = FakeCamera(sleep=clock.sleep, monotonic=clock.monotonic)
    capture = camera.open()
    capture.read()
    clock.sleep(0.5)
    capture.read()
    assert camera.served[-1] <= 2


def test_nothing_queues_while_scanning_at_the_frame_rate(clock: VirtualClock) -> None:
    camera, scanner = live(clock)
    assert scanner.scan(1.0) is None
    assert 14 <= len(camera.served) <= 17
    assert camera.served == sorted(set(camera.served))  # each frame once, in order


def test_a_code_raised_into_view_is_read_from_the_sequence(clock: VirtualClock) -> None:
    from drivers.fake_camera import qr_frame

    camera, scanner = live(clock)
    blank = np.full((480, 640), 200, dtype=np.uint8)
    scanner.read_frame()
    camera.play([blank] * 5 + [qr_frame("THP1:RAISED")] * 10)
    assert scanner.scan(2.0) == "THP1:RAISED"
    assert camera.play_index(camera.served[-1]) == 5  # read from the first frame showing it


def test_the_located_region_is_tried_first_in_the_next_frames(clock: VirtualClock) -> None:
    camera, scanner = live(clock, holdoff_s=0.1)
    camera.show_text("THP1:HELD")
    assert scanner.scan(1.0) == "THP1:HELD"
    assert scanner.last_step == "zxing"
    clock.sleep(0.2)
    assert scanner.scan(1.0) == "THP1:HELD"
    assert scanner.last_step == "hint"
    clock.sleep(2.0)  # the hint expires after hint_s without the code
    camera.show_nothing()
    assert scanner.scan(0.2) is None
    camera.show_text("THP1:HELD")
    assert scanner.scan(1.0) == "THP1:HELD" and scanner.last_step == "zxing"


# --- camera settings ----------------------------------------------------------------------

def test_default_settings_reach_the_camera() -> None:
    import cv2

    from drivers.camera import apply_settings
    from station.config import CameraSettings

    camera = FakeCamera()
    assert apply_settings(camera.open(), CameraSettings().capture_settings()) == []
    assert camera.settings[cv2.CAP_PROP_FRAME_WIDTH] == 640
    assert camera.settings[cv2.CAP_PROP_FRAME_HEIGHT] == 480
    assert camera.settings[cv2.CAP_PROP_FPS] == 15
    assert camera.settings[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter.fourcc(*"YUYV")
    assert camera.settings[cv2.CAP_PROP_BUFFERSIZE] == 1
    assert camera.settings[cv2.CAP_PROP_AUTO_EXPOSURE] == 3  # V4L2 aperture priority: auto
    assert camera.settings[cv2.CAP_PROP_AUTOFOCUS] == 1
    assert cv2.CAP_PROP_EXPOSURE not in camera.settings
    assert cv2.CAP_PROP_GAIN not in camera.settings


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("exposure", 150, {"CAP_PROP_AUTO_EXPOSURE": 1, "CAP_PROP_EXPOSURE": 150}),
    ("gain", 32, {"CAP_PROP_GAIN": 32}),
    ("focus", 40, {"CAP_PROP_AUTOFOCUS": 0, "CAP_PROP_FOCUS": 40}),
    ("width", 1280, {"CAP_PROP_FRAME_WIDTH": 1280}),
    ("height", 720, {"CAP_PROP_FRAME_HEIGHT": 720}),
    ("fps", 30, {"CAP_PROP_FPS": 30}),
    ("fourcc", "MJPG", {"CAP_PROP_FOURCC": 0x47504A4D}),
    ("buffers", 2, {"CAP_PROP_BUFFERSIZE": 2}),
])
def test_each_camera_setting_from_config_is_applied(key: str, value: object,
                                                    expected: dict[str, float]) -> None:
    import cv2

    from station.config import Config
    from station.hardware import Fakes, build_scanner

    config = Config.model_validate({"drivers": "fake", "scanner": {"camera": {key: value}}})
    fakes = Fakes()
    scanner = build_scanner(config, fakes, sleep=lambda _s: None)
    scanner.scan(0.01)  # opens the camera
    assert fakes.camera is not None
    for name, number in expected.items():
        assert fakes.camera.settings[getattr(cv2, name)] == number, name


def test_a_control_the_camera_lacks_is_reported_not_fatal(clock: VirtualClock) -> None:
    import cv2

    from drivers.camera import CaptureSettings, apply_settings

    camera = FakeCamera(unsupported=[cv2.CAP_PROP_FOCUS, cv2.CAP_PROP_AUTOFOCUS])
    refused = apply_settings(camera.open(), CaptureSettings(focus=30))
    assert refused == ["focus"]
    assert camera.settings[cv2.CAP_PROP_FRAME_WIDTH] == 640


def test_bad_camera_settings_are_config_errors() -> None:
    from station.config import CameraSettings

    for bad in ({"exposure": "dark"}, {"exposure": 0}, {"fourcc": "H264"}, {"buffers": 0}):
        with pytest.raises(ValueError):
            CameraSettings.model_validate(bad)


# --- long texts -----------------------------------------------------------------------------

def test_a_1300_character_text_reaches_the_scanner(clock: VirtualClock) -> None:
    camera, scanner = make(clock)
    long_text = "https://example.invalid/" + "abcdefghij" * 128  # 1,304 characters, byte mode
    camera.show_text(long_text)
    assert scanner.scan(1.0) == long_text


def test_a_version_40_text_gets_a_frame_large_enough() -> None:
    from drivers.fake_camera import qr_frame

    text = "x" * 2900  # needs version 40 at level L: 177 modules + quiet zone
    frame = qr_frame(text, frame_size=(240, 320))
    assert frame.shape[0] >= 185 * 2
    from drivers.decoders import DecoderChain

    assert DecoderChain().decode(frame) == [text]


def test_text_beyond_a_version_40_code_is_a_clear_error() -> None:
    from drivers.fake_camera import qr_frame

    with pytest.raises(ValueError, match="more than a version-40 QR code can hold"):
        qr_frame("x" * 3000)


def test_simulate_shows_a_1300_character_qr_text_to_the_station(tmp_path: Path,
                                                              en_config: str) -> None:
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    text = "THP1:" + "A" * 1295
    scenario = tmp_path / "long.yaml"
    scenario.write_text("start: '2021-02-01T07:30:00+08:00'\nevents:\n"
                        f"  - at: '07:30:05'\n    qr: '{text}'\n    temperature: 36.5\n"
                        f"  - at: '+20s'\n    qr: '{'x' * 7100}'\n")
    result = subprocess.run(
        [sys.executable, "-c", "from station.cli import main; main()", "simulate",
         str(scenario), "--json", "--config", en_config],
        cwd=root, env={**os.environ, "GATE_STATION_DRIVERS": "fake"}, capture_output=True,
        text=True, timeout=120)
    # the 1,300-character code is read and refused by the station for its length (format),
    # the 7,100-character one cannot be a QR code at all: a one-line scenario error
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(scenario)) and "event 2" in lines[0]
    assert "version-40" in lines[0]
    first = json.loads(result.stdout.splitlines()[0])
    assert first["reasons"] == ["format"]


def test_property_ids_and_fourcc_are_opencvs_own() -> None:
    """The settings are built without importing OpenCV; the ids written out must be cv2's."""
    import cv2

    from drivers.camera import CAP_PROP, fourcc_code

    for name, number in CAP_PROP.items():
        assert getattr(cv2, f"CAP_PROP_{name}") == number, name
    for code in ("YUYV", "MJPG", "GREY"):
        assert fourcc_code(code) == cv2.VideoWriter.fourcc(*code)
    with pytest.raises(ValueError, match="four ASCII"):
        fourcc_code("YUY")


def test_a_station_on_the_fake_camera_without_zxing_smooth_never_loads_opencv() -> None:
    """~15 MB of the daemon's memory: the capture settings need no OpenCV."""
    import subprocess
    import sys

    probe = ("import sys\n"
             "from drivers.camera import CaptureSettings, apply_settings\n"
             "from drivers.fake_camera import FakeCamera\n"
             "camera = FakeCamera(frame_size=(480, 640), fps=15.0)\n"
             "apply_settings(camera.open(), CaptureSettings(exposure=150, gain=4, focus=30))\n"
             "assert camera.settings, 'nothing was set'\n"
             "print('cv2' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parent.parent)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("phase", [0.0, 0.25, 0.5, 0.9])
def test_a_sequence_comes_into_view_at_the_given_phase_of_the_frame_period(
        clock: VirtualClock, phase: float) -> None:
    # A free-running camera: the first capture showing the sequence comes `phase` frame
    # periods after the sequence started, whenever play() was called.
    camera = FakeCamera(sleep=clock.sleep, monotonic=clock.monotonic)
    capture = camera.open()
    capture.read()
    clock.sleep(0.01)
    frames = [np.full((480, 640), value, dtype=np.uint8) for value in (10, 20, 30)]
    start = camera.play(frames, phase=phase)
    capture.read()  # waits for the next capture: the virtual clock is then at its time
    assert clock.monotonic() - start == pytest.approx(phase / camera.fps)
    assert camera.play_index(camera.served[-1]) == 0
    capture.read()
    assert camera.play_index(camera.served[-1]) == 1


def test_a_capture_phase_outside_the_frame_period_is_refused(clock: VirtualClock) -> None:
    camera = FakeCamera(sleep=clock.sleep, monotonic=clock.monotonic)
    for phase in (-0.1, 1.0, 2.5):
        with pytest.raises(ValueError, match="phase"):
            camera.play([], phase=phase)


def test_after_a_decode_just_over_a_frame_period_the_queued_newest_frame_is_not_dropped(
        clock: VirtualClock) -> None:
    # The frame queued during an 80 ms decode was taken 13 ms ago: nothing newer exists, so
    # it is decoded at once instead of waiting 54 ms for the next capture.
    camera, scanner = live(clock)
    scanner.read_frame()
    first = camera.served[-1]
    clock.sleep(1 / camera.fps + 0.013)
    waited_from = clock.monotonic()
    scanner.read_frame()
    assert camera.served[-1] == first + 1
    assert clock.monotonic() == waited_from


def test_a_queued_frame_older_than_a_frame_period_is_still_dropped(clock: VirtualClock) -> None:
    camera, scanner = live(clock)
    scanner.read_frame()
    first = camera.served[-1]
    clock.sleep(2 / camera.fps + 0.013)  # two frames queued, the older one 80 ms old
    scanner.read_frame()
    assert camera.served[-2:] == [first + 1, first + 2]  # the stale one grabbed and dropped


def test_the_frame_period_is_the_rate_the_camera_delivers_not_the_configured_one(
        clock: VirtualClock) -> None:
    # Configured for 15 frames/s, the camera picked 30: a queued frame taken 40 ms ago (over
    # 1/30 s) is stale and dropped; with the configured 67 ms it would pass for the newest.
    camera = FakeCamera(sleep=clock.sleep, monotonic=clock.monotonic, fps=30.0)
    scanner = CameraScanner(camera.open, fps=15.0, sleep=clock.sleep, monotonic=clock.monotonic)
    scanner.read_frame()
    first = camera.served[-1]
    clock.sleep(1 / camera.fps + 0.040)  # frame first+1 queued, taken 40 ms ago
    scanner.read_frame()
    assert camera.served[-2:] == [first + 1, first + 2]  # dropped, then the next capture


def test_a_camera_that_reports_no_rate_keeps_the_configured_period(clock: VirtualClock) -> None:
    # A backend without CAP_PROP_FPS (it reads 0): the configured 15 frames/s still decides, so
    # the 40-ms-old queued frame of a 30 frames/s camera is taken as the newest.
    camera = FakeCamera(sleep=clock.sleep, monotonic=clock.monotonic, fps=30.0,
                        unsupported=[5])  # cv2.CAP_PROP_FPS
    scanner = CameraScanner(camera.open, fps=15.0, sleep=clock.sleep, monotonic=clock.monotonic)
    scanner.read_frame()
    first = camera.served[-1]
    clock.sleep(1 / camera.fps + 0.040)
    scanner.read_frame()
    assert camera.served[-1] == first + 1


def test_a_capture_without_frame_times_falls_back_to_waiting(clock: VirtualClock) -> None:
    # A file or stream source: POS_MSEC is not a time on the monotonic clock.
    camera = FakeCamera(sleep=clock.sleep, monotonic=clock.monotonic, frame_times=False)
    scanner = CameraScanner(camera.open, sleep=clock.sleep, monotonic=clock.monotonic)
    scanner.read_frame()
    first = camera.served[-1]
    clock.sleep(1 / camera.fps + 0.013)
    scanner.read_frame()
    assert camera.served[-2:] == [first + 1, first + 2]  # the queued one dropped, then waited


def test_the_sequence_bench_spreads_capture_phases_evenly_over_the_frame_period() -> None:
    # bench/decode.py: a free-running camera sees a phone come into view at any point of its
    # frame period; each condition (every 8th sequence) gets early, middle and late phases.
    import importlib
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    capture_phase = importlib.import_module("decode").capture_phase

    phases = [capture_phase(number, 24) for number in range(24)]
    assert sorted(phases) == pytest.approx([(index + 0.5) / 24 for index in range(24)])
    for condition in range(8):
        thirds = sorted(int(phases[number] * 3) for number in range(condition, 24, 8))
        assert thirds == [0, 1, 2]
    assert sorted(capture_phase(number, 7) for number in range(7)) == pytest.approx(
        [(index + 0.5) / 7 for index in range(7)])
