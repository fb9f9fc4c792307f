"""A fake camera: frames with real QR codes (rendered with zxing-cpp or segno) or from files.

`FakeCamera` is the device; `open()` gives a capture with the part of `cv2.VideoCapture` the
scanner uses (`read`, `grab`, `retrieve`, `set`, `get`, `isOpened`, `release`). What the
camera sees is set with `show_text`, `show_image`, `show_frame`, `show_nothing`, or `play`
(a sequence of frames at the camera's frame rate); `unplug()` makes open captures fail and
new ones not open until `plug()`. Every property a capture `set`s is recorded in
`camera.settings` (OpenCV property id → value), as the device would hold it; properties in
`unsupported` are refused (`set` returns False), as a camera without that control does.

Timing, two models:
- without `monotonic` (simple): each read blocks one frame period on the injected `sleep`
  and returns what is in view, like a reader that always waits for the next frame;
- with `monotonic` (live): frames are captured at k / fps on that clock into `buffers`
  driver buffers (V4L2's queue); a read returns the oldest queued frame at once, else waits
  for the next capture. A full queue drops new frames, so a slow reader gets stale frames:
  exactly what the scanner's newest-frame logic must cope with. `served` lists the capture
  index of every frame handed out; a capture's `get(CAP_PROP_POS_MSEC)` is the time the
  frame it grabbed last was taken, as a V4L2 buffer's timestamp is.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from drivers.decoders import Frame, read_image

POS_MSEC = 0  # cv2.CAP_PROP_POS_MSEC: for a V4L2 camera, the grabbed buffer's time
FPS = 5  # cv2.CAP_PROP_FPS: the rate the camera runs at, whatever was asked for
BACKGROUND = 200  # a light grey scene, not a pure white page
MIN_MODULE_PX = 2  # the smallest module the decoders read reliably from a clean render


def _modules(text: str, error: str) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The code as 0 (dark) / 255 (light) modules with a 4-module quiet zone. Level `error`
    if the text fits a version-40 code at it, else the lowest level it fits (L holds most);
    ValueError when even a version-40-L code cannot hold it."""
    levels = "lmqh"
    asked = levels.index(error.lower())
    tried = [levels[asked], *reversed(levels[:asked])]
    for level in tried:
        try:
            return _render(text, level)
        except ValueError:
            continue
    raise ValueError(f"a {len(text)}-character text ({len(text.encode())} bytes as UTF-8) is "
                     "more than a version-40 QR code can hold")


def _render(text: str, level: str) -> np.ndarray[Any, np.dtype[np.uint8]]:
    if text.isascii():
        import zxingcpp

        # zxing-cpp's native encoder: under 1 ms, which keeps `simulate` fast
        barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode,
                                          ec_level=level.upper())
        return np.asarray(barcode.to_image(scale=1, add_quiet_zones=True), dtype=np.uint8)
    import segno

    # byte mode, UTF-8 without ECI: what phone apps write, and what trips zbar's guessing
    try:
        code = segno.make(text, error=level, micro=False, mode="byte", encoding="utf-8",
                          boost_error=False)
    except segno.DataOverflowError as error:
        raise ValueError(str(error)) from None
    modules = np.pad(np.array([list(row) for row in code.matrix], dtype=bool), 4,
                     constant_values=False)
    return np.where(modules, 0, 255).astype(np.uint8)


def qr_frame(
    text: str, *, frame_size: tuple[int, int] = (480, 640), module_px: int = 4, error: str = "m"
) -> Frame:
    """A grayscale frame with `text` as a QR code centred on a grey scene.

    The frame is `frame_size` (height, width) whenever the code fits it with modules of
    `module_px` down to 2 pixels (the largest that fits is used); a code too large even at
    2 px gets a frame just large enough for it (a higher-resolution camera). Any text a
    version-40 code holds is rendered; a longer one raises ValueError saying so.
    """
    modules = _modules(text, error)
    height, width = frame_size
    fitting = min(height, width) // modules.shape[0]
    scale = max(MIN_MODULE_PX, min(module_px, fitting))
    image = np.kron(modules, np.ones((scale, scale), dtype=np.uint8))
    height, width = max(height, image.shape[0]), max(width, image.shape[1])
    frame = np.full((height, width), BACKGROUND, dtype=np.uint8)
    top, left = (height - image.shape[0]) // 2, (width - image.shape[1]) // 2
    frame[top : top + image.shape[0], left : left + image.shape[1]] = image
    return frame


class FakeCapture:
    """One open handle on a FakeCamera, like one `cv2.VideoCapture`."""

    def __init__(self, camera: FakeCamera) -> None:
        self._camera = camera
        self._open = camera.plugged
        self._generation = camera.generation
        self._grabbed: Frame | None = None
        self._taken_ms = 0.0

    def isOpened(self) -> bool:
        return self._open

    def _alive(self) -> bool:
        camera = self._camera
        return self._open and camera.plugged and self._generation == camera.generation

    def grab(self) -> bool:
        if not self._alive():
            self._grabbed = None
            return False
        self._grabbed = self._camera.next_frame()
        self._taken_ms = self._camera.taken_at * 1000.0 if self._camera.frame_times else 0.0
        return True

    def retrieve(self) -> tuple[bool, Any]:
        if self._grabbed is None:
            return False, None
        frame, self._grabbed = self._grabbed, None
        return True, frame

    def read(self) -> tuple[bool, Any]:
        if not self.grab():
            return False, None
        return self.retrieve()

    def set(self, prop: int, value: float) -> bool:
        if not self._alive() or prop in self._camera.unsupported:
            return False
        self._camera.settings[prop] = value
        return True

    def get(self, prop: int) -> float:
        """A property as last set; `CAP_PROP_POS_MSEC` (0) is, as V4L2 gives it, the time
        the last grabbed frame was taken, in ms on the camera's clock (live model; 0 before
        the first grab, in the simple model, which has no clock, and with `frame_times`
        off, like a file or a stream); `CAP_PROP_FPS` (5) is the rate the camera runs at
        (`camera.fps`), as V4L2 reports the rate it picked rather than the one asked for; a
        property in `unsupported` reads 0, as OpenCV reports one its backend lacks."""
        if prop == POS_MSEC:
            return self._taken_ms
        if prop in self._camera.unsupported:
            return 0.0  # what OpenCV reports for a property the backend does not have
        if prop == FPS:
            return float(self._camera.fps)
        return float(self._camera.settings.get(prop, 0.0))

    def release(self) -> None:
        self._open = False


class FakeCamera:
    """The device behind FakeCaptures (module docstring)."""

    def __init__(
        self,
        *,
        fps: float = 15.0,
        frame_size: tuple[int, int] = (480, 640),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] | None = None,
        buffers: int = 4,
        unsupported: Sequence[int] = (),
        frame_times: bool = True,
    ) -> None:
        self.fps = fps
        self.frame_size = frame_size
        self.sleep = sleep
        self.monotonic = monotonic
        self.buffers = buffers
        self.unsupported = frozenset(unsupported)
        self.frame_times = frame_times  # False: like a file or stream, no buffer times
        self.plugged = True
        self.generation = 0  # bumped by unplug(), so captures opened before it stay dead
        self.frames_read = 0
        self.opens = 0
        self.settings: dict[int, float] = {}
        self.served: list[int] = []
        self.taken_at = 0.0  # when the last frame served was captured (live model)
        self.current: Frame = np.full(frame_size, BACKGROUND, dtype=np.uint8)
        self._playing: list[Frame] = []
        self._play_start = 0.0
        self._start = monotonic() if monotonic else 0.0
        self._queue: deque[tuple[int, Frame]] = deque()
        self._captured = -1  # index of the last frame captured into the queue (live model)

    def open(self) -> FakeCapture:
        self.opens += 1
        return FakeCapture(self)

    # what is in view --------------------------------------------------------------------

    def show_text(self, text: str) -> None:
        self._playing = []
        self.current = qr_frame(text, frame_size=self.frame_size)

    def show_image(self, path: str) -> None:
        self._playing = []
        self.current = read_image(path)

    def show_frame(self, frame: Frame) -> None:
        self._playing = []
        self.current = frame

    def show_nothing(self) -> None:
        self._playing = []
        self.current = np.full(self.frame_size, BACKGROUND, dtype=np.uint8)

    def play(self, frames: Sequence[Frame], *, phase: float | None = None) -> float:
        """Show `frames` one per frame period (live model), then keep the last; returns the
        time (camera clock) at which the first of them came into view.

        They start now, or with `phase` (0 ≤ phase < 1) that fraction of a frame period
        before the camera's next capture: a camera free-runs, so a phone comes into view at
        any point of its frame period, and the first capture that shows a frame comes
        `phase` periods after it (its average over real scenes is half a period). Started
        "now" just after a read, a sequence is always seen almost a whole period late.
        ValueError without the live model or for a phase outside [0, 1)."""
        if self.monotonic is None:
            raise ValueError("play() needs the live model: FakeCamera(monotonic=...)")
        if phase is not None and not 0.0 <= phase < 1.0:
            raise ValueError(f"a capture phase is a fraction of a frame period in [0, 1), "
                             f"not {phase}")
        now = self.monotonic()
        start = now
        if phase is not None:
            next_capture = math.floor((now - self._start) * self.fps + 1e-9) + 1
            start = self._start + (next_capture - phase) / self.fps
        self._playing = list(frames)
        self._play_start = start
        self._queue.clear()
        return start

    def in_view(self, at: float) -> Frame:
        if self._playing:
            index = min(len(self._playing) - 1, int((at - self._play_start) * self.fps + 1e-9))
            return self._playing[max(0, index)]
        return self.current

    def play_index(self, capture_index: int) -> int:
        """Which frame of the sequence being played the capture `capture_index` showed."""
        at = self._start + capture_index / self.fps
        return max(0, min(len(self._playing) - 1, int((at - self._play_start) * self.fps + 1e-9)))

    # capture ----------------------------------------------------------------------------

    def next_frame(self) -> Frame:
        self.frames_read += 1
        if self.monotonic is None:
            self.sleep(1.0 / self.fps)
            return self.current.copy()
        self._capture_until(self.monotonic())
        if not self._queue:
            wait = self._start + (self._captured + 1) / self.fps - self.monotonic()
            if wait > 0:
                self.sleep(wait)
            self._capture_until(self.monotonic())
        index, frame = self._queue.popleft()
        self.served.append(index)
        self.taken_at = self._start + index / self.fps
        return frame.copy()

    def _capture_until(self, now: float) -> None:
        due = math.floor((now - self._start) * self.fps + 1e-9)
        for index in range(self._captured + 1, due + 1):
            if len(self._queue) >= self.buffers:  # every buffer full: the driver drops frames
                break
            self._queue.append((index, self.in_view(self._start + index / self.fps)))
        self._captured = max(self._captured, due)

    def unplug(self) -> None:
        self.plugged = False
        self.generation += 1

    def plug(self) -> None:
        self.plugged = True
