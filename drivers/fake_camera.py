"""A fake camera: frames with real QR codes (rendered with segno) or from image files.

`FakeCamera` is the device; `open()` gives a capture with `cv2.VideoCapture`'s `read`,
`isOpened` and `release`. What the camera sees is set with `show_text`, `show_image`,
`show_frame` or `show_nothing`; `unplug()` makes open captures fail and new ones not open
until `plug()`. Each `read()` advances the injected clock by one frame period, like a real
camera blocking for its next frame at `fps`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from drivers.decoders import Frame, read_image

BACKGROUND = 200  # a light grey scene, not a pure white page


def qr_frame(
    text: str, *, frame_size: tuple[int, int] = (480, 640), module_px: int = 4, error: str = "m"
) -> Frame:
    """A grayscale frame (height, width) with `text` as a QR code centred on a grey scene.

    ASCII text (every THP1 code) is encoded with zxing-cpp's native encoder (under 1 ms, which
    keeps `simulate` fast); other text with segno in byte mode as UTF-8 without ECI, exactly
    what phone apps write and what trips zbar's charset guessing.
    """
    if text.isascii():
        import zxingcpp

        barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode,
                                          ec_level=error.upper())
        image = np.asarray(barcode.to_image(scale=module_px, add_quiet_zones=True),
                           dtype=np.uint8)
    else:
        import segno

        code = segno.make(text, error=error, micro=False, mode="byte", encoding="utf-8")
        modules = np.pad(np.array([list(row) for row in code.matrix], dtype=bool), 4,
                         constant_values=False)
        image = np.where(modules, 0, 255).astype(np.uint8)
        image = np.kron(image, np.ones((module_px, module_px), dtype=np.uint8))
    height, width = frame_size
    if image.shape[0] > height or image.shape[1] > width:
        raise ValueError(f"a {image.shape} code does not fit a {frame_size} frame")
    frame = np.full(frame_size, BACKGROUND, dtype=np.uint8)
    top, left = (height - image.shape[0]) // 2, (width - image.shape[1]) // 2
    frame[top : top + image.shape[0], left : left + image.shape[1]] = image
    return frame


class FakeCapture:
    """One open handle on a FakeCamera, like one `cv2.VideoCapture`."""

    def __init__(self, camera: FakeCamera) -> None:
        self._camera = camera
        self._open = camera.plugged
        self._generation = camera.generation

    def isOpened(self) -> bool:
        return self._open

    def read(self) -> tuple[bool, Any]:
        camera = self._camera
        if not self._open or not camera.plugged or self._generation != camera.generation:
            return False, None
        camera.sleep(1.0 / camera.fps)
        camera.frames_read += 1
        return True, camera.current.copy()

    def release(self) -> None:
        self._open = False


class FakeCamera:
    """The device behind FakeCaptures."""

    def __init__(
        self,
        *,
        fps: float = 15.0,
        frame_size: tuple[int, int] = (480, 640),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.fps = fps
        self.frame_size = frame_size
        self.sleep = sleep
        self.plugged = True
        self.generation = 0  # bumped by unplug(), so captures opened before it stay dead
        self.frames_read = 0
        self.opens = 0
        self.current: Frame = np.full(frame_size, BACKGROUND, dtype=np.uint8)

    def open(self) -> FakeCapture:
        self.opens += 1
        return FakeCapture(self)

    def show_text(self, text: str) -> None:
        self.current = qr_frame(text, frame_size=self.frame_size)

    def show_image(self, path: str) -> None:
        self.current = read_image(path)

    def show_frame(self, frame: Frame) -> None:
        self.current = frame

    def show_nothing(self) -> None:
        self.current = np.full(self.frame_size, BACKGROUND, dtype=np.uint8)

    def unplug(self) -> None:
        self.plugged = False
        self.generation += 1

    def plug(self) -> None:
        self.plugged = True
