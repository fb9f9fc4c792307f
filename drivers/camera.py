"""Camera QR scanner: OpenCV `VideoCapture` → grayscale → decoder chain.

Wiring: a USB UVC webcam (`/dev/video0`, source `0`) or the Pi camera through libcamera's
V4L2 compatibility layer; `source` may also be a file path or a stream URL. Mount it so a
phone held 20–40 cm away fills a third of the frame; 640×480 is plenty for a health code.

Behaviour:
- One `scan(timeout_s)` grabs frames until a code is read or the timeout passes.
- A code held in view is reported once per hold-off window (`holdoff_s`, default 3 s): the
  same text is reported again only after it has been out of the report window that long.
- If the camera cannot be opened or a frame read fails (unplugged, driver crash), `scan`
  raises ScannerError and the scanner reopens it on later calls, waiting between attempts
  with a capped exponential backoff (0.5 s → 10 s), sleeping rather than spinning a core.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from drivers.decoders import DEFAULT_CHAIN, DecoderChain, Frame
from drivers.holdoff import HoldOff
from drivers.reopen import Reopener


class CaptureLike(Protocol):
    """The part of `cv2.VideoCapture` the scanner uses."""

    def isOpened(self) -> bool: ...

    def read(self) -> tuple[bool, Any]: ...

    def release(self) -> None: ...


def open_cv_capture(source: int | str, width: int = 640, height: int = 480) -> CaptureLike:
    """Open a real camera with OpenCV (V4L2 on Linux)."""
    import cv2

    capture = cv2.VideoCapture(source)
    if capture.isOpened():
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale queue
    return capture


class CameraScanner:
    """A QR scanner over a camera. `open_capture` makes a new capture (real or fake)."""

    def __init__(
        self,
        open_capture: Callable[[], CaptureLike],
        *,
        decoders: Sequence[str] = DEFAULT_CHAIN,
        holdoff_s: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_capture = open_capture
        self._chain = DecoderChain(decoders)
        self._holdoff = HoldOff(holdoff_s)
        self._sleep = sleep
        self._monotonic = monotonic
        self._capture: CaptureLike | None = None
        self._reopen = Reopener(sleep, monotonic)

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
        self._capture = capture
        return capture

    def read_frame(self) -> Frame:
        """One grayscale frame; ScannerError (and a later reopen) when the camera fails."""
        capture = self._ensure_open()
        ok, frame = capture.read()
        if not ok or frame is None:
            capture.release()
            self._capture = None
            self._reopen.failed("camera stopped delivering frames")
        self._reopen.succeeded()
        array = np.asarray(frame, dtype=np.uint8)
        if array.ndim == 3:
            import cv2

            array = np.asarray(cv2.cvtColor(array, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
        return array

    def scan(self, timeout_s: float) -> str | None:
        deadline = self._monotonic() + timeout_s
        while True:
            for text in self._chain.decode(self.read_frame()):
                if self._holdoff.is_new(text, self._monotonic()):
                    return text
            if self._monotonic() >= deadline:
                return None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
