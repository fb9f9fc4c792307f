"""Camera QR scanner: OpenCV `VideoCapture` → newest grayscale frame → decoder chain.

Wiring: a USB UVC webcam (`/dev/video0`, source `0`) or the Pi camera through libcamera's
V4L2 compatibility layer; `source` may also be a file path or a stream URL. Mount it so a
phone held 20–40 cm away fills a third of the frame; 640×480 is plenty for a health code.

Behaviour:
- One `scan(timeout_s)` decodes frames until a code is read or the timeout passes.
- Always the newest frame: frames that queued up in the driver's buffers while the previous
  frame was being decoded are grabbed and dropped (a grab that returns at once hands back a
  queued frame; the first grab that has to wait for the camera gets a fresh one), so nothing
  queues up and a slow frame never makes the next decode late by more than one frame. A
  queued frame that the camera took less than a frame period ago (its V4L2 buffer time,
  `CAP_PROP_POS_MSEC`, on the monotonic clock) is the newest there is, and is decoded rather
  than dropped: after a decode that overran the frame period, waiting for the next capture
  would add up to a frame period (67 ms at 15 frames/s) for nothing. A capture whose times
  are missing or on another clock (a file, a stream) falls back to waiting.
- Once a code has been located (read, or its finder patterns seen), its region is tried
  first in the next frames (`hint_s`, default 1 s after it was last seen there).
- The decoder chain's motion-blur rescue (drivers/deblur.py) may use at most DEBLUR_SHARE
  of real time over a stream (a token bucket with a quarter second saved up).
- A code held in view is reported once per hold-off window (`holdoff_s`, default 3 s): the
  same text is reported again only after it has been out of the report window that long.
- If the camera cannot be opened or a frame read fails (unplugged, driver crash), `scan`
  raises ScannerError and the scanner reopens it on later calls, waiting between attempts
  with a capped exponential backoff (0.5 s → 10 s), sleeping rather than spinning a core.

Camera settings (`CaptureSettings`) are applied through OpenCV's V4L2 properties when the
camera opens; a control the camera does not have is logged (logger `drivers.camera`) and
skipped. OpenCV's own console messages are silenced (drivers/opencv.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

import numpy as np

from drivers.decoders import DEFAULT_CHAIN, DecoderChain, Frame, Region, to_gray
from drivers.holdoff import HoldOff
from drivers.opencv import opencv
from drivers.reopen import Reopener

log = logging.getLogger(__name__)

MAX_STALE_FRAMES = 8  # more than any V4L2 queue; bounds the drain for file sources
MIN_REPORTED_FPS, MAX_REPORTED_FPS = 1.0, 240.0  # a rate outside is not a camera's
QUEUED_GRAB_S = 0.004  # a grab this fast returned a frame that was already queued
# At most this share of a core (real time) on the motion-blur rescue: a scene that looks
# blurred frame after frame (a person walking past, shaking foliage) cannot make the daemon
# spend ~15 ms on every frame. A phone raised into view needs a few attempts (~0.1 s).
DEBLUR_SHARE = 0.10


class CaptureLike(Protocol):
    """The part of `cv2.VideoCapture` the scanner uses."""

    def isOpened(self) -> bool: ...

    def grab(self) -> bool: ...

    def retrieve(self) -> tuple[bool, Any]: ...

    def set(self, prop: int, value: float) -> bool: ...

    def get(self, prop: int) -> float: ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class CaptureSettings:
    """What the camera is told when it opens. `None` leaves a control to the camera's auto
    mode. Units are V4L2's: `exposure` in 100 µs steps (100 = 10 ms), `gain` and `focus` in
    the camera's own range (`v4l2-ctl -l` lists them)."""

    width: int = 640
    height: int = 480
    fps: float = 15.0
    fourcc: str | None = "YUYV"  # uncompressed: no MJPEG blocks on the modules
    exposure: float | None = None
    gain: float | None = None
    focus: float | None = None
    buffers: int = 1

    def properties(self) -> list[tuple[str, int, float]]:
        """(name, OpenCV property id, value) in the order they are set: format first (it
        decides which sizes and rates exist), then size, rate, buffers, and the controls."""
        props: list[tuple[str, int, float]] = []
        if self.fourcc:
            props.append(("fourcc", CAP_PROP["FOURCC"], float(fourcc_code(self.fourcc))))
        props += [("width", CAP_PROP["FRAME_WIDTH"], float(self.width)),
                  ("height", CAP_PROP["FRAME_HEIGHT"], float(self.height)),
                  ("fps", CAP_PROP["FPS"], float(self.fps)),
                  ("buffers", CAP_PROP["BUFFERSIZE"], float(self.buffers))]
        # V4L2 exposure modes as OpenCV's V4L2 backend passes them: 1 manual, 3 auto
        if self.exposure is None:
            props.append(("exposure", CAP_PROP["AUTO_EXPOSURE"], 3.0))
        else:
            props += [("exposure", CAP_PROP["AUTO_EXPOSURE"], 1.0),
                      ("exposure", CAP_PROP["EXPOSURE"], float(self.exposure))]
        if self.gain is not None:
            props.append(("gain", CAP_PROP["GAIN"], float(self.gain)))
        if self.focus is None:
            props.append(("focus", CAP_PROP["AUTOFOCUS"], 1.0))
        else:
            props += [("focus", CAP_PROP["AUTOFOCUS"], 0.0),
                      ("focus", CAP_PROP["FOCUS"], float(self.focus))]
        return props


# OpenCV's videoio property ids (`cv2.CAP_PROP_<NAME>`), part of its stable C API, written
# out so that building the settings needs no OpenCV: a station on the serial scanner or on
# the fake camera never loads it (~15 MB). tests/test_camera.py checks them against cv2.
CAP_PROP = {"POS_MSEC": 0, "FRAME_WIDTH": 3, "FRAME_HEIGHT": 4, "FPS": 5, "FOURCC": 6, "GAIN": 14,
            "EXPOSURE": 15, "AUTO_EXPOSURE": 21, "FOCUS": 28, "BUFFERSIZE": 38,
            "AUTOFOCUS": 39}


def fourcc_code(fourcc: str) -> int:
    """A four-character code as V4L2 and `cv2.VideoWriter_fourcc` pack it: the first
    character in the lowest byte. ValueError unless exactly four ASCII characters."""
    if len(fourcc) != 4 or not fourcc.isascii():
        raise ValueError(f"a FourCC is four ASCII characters, not {fourcc!r}")
    return sum(ord(char) << (8 * index) for index, char in enumerate(fourcc))


def apply_settings(capture: CaptureLike, settings: CaptureSettings) -> list[str]:
    """Set every property of `settings` on an open capture; the names the camera refused."""
    refused = []
    for name, prop, value in settings.properties():
        if not capture.set(prop, value) and name not in refused:
            refused.append(name)
    return refused


def open_cv_capture(source: int | str, settings: CaptureSettings | None = None) -> CaptureLike:
    """Open a real camera with OpenCV (V4L2 on Linux) and apply `settings`."""
    cv2 = opencv()
    capture: CaptureLike = cv2.VideoCapture(source, cv2.CAP_V4L2 if isinstance(source, int)
                                            else cv2.CAP_ANY)
    if capture.isOpened():
        refused = apply_settings(capture, settings or CaptureSettings())
        if refused:
            log.warning("camera %s ignores these settings: %s", source, ", ".join(refused))
    return capture


class CameraScanner:
    """A QR scanner over a camera. `open_capture` makes a new capture (real or fake)."""

    def __init__(
        self,
        open_capture: Callable[[], CaptureLike],
        *,
        decoders: Sequence[str] = DEFAULT_CHAIN,
        holdoff_s: float = 3.0,
        hint_s: float = 1.0,
        rescue: bool = True,
        fps: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_capture = open_capture
        self._configured_period = 1.0 / fps
        self._frame_period = self._configured_period  # the camera's own, once it is open
        self._chain = DecoderChain(decoders, rescue=rescue, deblur_share=DEBLUR_SHARE)
        self._holdoff = HoldOff(holdoff_s)
        self._hint_s = hint_s
        self._hint: Region | None = None
        self._hint_seen = 0.0
        self._sleep = sleep
        self._monotonic = monotonic
        self._capture: CaptureLike | None = None
        self._reopen = Reopener(sleep, monotonic)
        self.last_step: str | None = None  # which decoder step read the last code

    @property
    def fault(self) -> str | None:
        return self._reopen.fault

    def _ensure_open(self) -> CaptureLike:
        if self._capture is not None:
            return self._capture
        self._reopen.wait()
        capture = self._open_capture()
        if not capture.isOpened():
            capture.release()
            self._reopen.failed("camera could not be opened")
        self._frame_period = self._delivered_period(capture)
        self._capture = capture
        return capture

    def _delivered_period(self, capture: CaptureLike) -> float:
        """The frame period the camera runs at: the rate it reports once its settings are
        applied (a camera that does not offer the configured rate picks another, 30 frames/s
        for 15, and V4L2 reports the one it picked), else the configured one (a file, a
        stream, a backend that reports 0). The newest-frame rule depends on it: with too
        long a period a stale queued frame would pass for the newest."""
        reported = capture.get(CAP_PROP["FPS"])
        if not MIN_REPORTED_FPS <= reported <= MAX_REPORTED_FPS:  # also NaN
            return self._configured_period
        if abs(reported * self._configured_period - 1.0) > 0.05:
            log.info("camera delivers %.4g frames/s, not the configured %.4g",
                     reported, 1.0 / self._configured_period)
        return 1.0 / reported

    def _lost(self, capture: CaptureLike) -> NoReturn:
        capture.release()
        self._capture = None
        self._reopen.failed("camera stopped delivering frames")

    def read_frame(self) -> Frame:
        """The newest grayscale frame (stale queued frames dropped); ScannerError (and a later
        reopen) when the camera fails."""
        capture = self._ensure_open()
        for _ in range(MAX_STALE_FRAMES + 1):
            start = self._monotonic()
            if not capture.grab():
                self._lost(capture)
            now = self._monotonic()
            if now - start >= QUEUED_GRAB_S:
                break  # this grab waited for the camera: a fresh frame
            if self._newest(capture, now):
                break  # queued, but nothing newer can have been taken since
        ok, frame = capture.retrieve()
        if not ok or frame is None:
            self._lost(capture)
        self._reopen.succeeded()
        return to_gray(np.asarray(frame, dtype=np.uint8))

    def _newest(self, capture: CaptureLike, now: float) -> bool:
        """Whether the frame just grabbed was taken less than a frame period before `now`,
        by its buffer time; False when the time is missing or not on the monotonic clock."""
        taken = capture.get(CAP_PROP["POS_MSEC"]) / 1000.0  # 0 or -1 where unsupported
        return taken > 0.0 and 0.0 <= now - taken < self._frame_period

    def scan(self, timeout_s: float) -> str | None:
        deadline = self._monotonic() + timeout_s
        while True:
            frame = self.read_frame()
            now = self._monotonic()
            if self._hint is not None and now - self._hint_seen > self._hint_s:
                self._hint = None
            reading = self._chain.read(frame, [self._hint] if self._hint else [])
            if reading.regions:
                self._hint, self._hint_seen = reading.regions[0], now
            for text in reading.texts:
                if self._holdoff.is_new(text, now):
                    self.last_step = reading.step
                    return text
            if self._monotonic() >= deadline:
                return None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
