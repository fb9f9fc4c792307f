"""QR decoding of grayscale frames: a cheap fast path, then rescue steps on located codes.

`DecoderChain.read(frame, hints)` works in four stages and stops at the first text:

1. Hints: the regions where earlier frames of a stream showed a code (the camera driver passes
   them) are decoded first, cropped, so a code held in view is read from a small image.
2. Fast path: the configured decoders (config.yaml `scanner.decoders`) on the whole frame, in
   order. Each zxing-cpp pass also reports the symbols it *located* (finder patterns seen) but
   could not decode (`return_errors`), at no extra cost.
3. Rescue, only when a code was located (by stage 2, or a hint): the expensive steps on a crop
   around each located code (at most three): 2× bicubic upscaling (a small or blurred code),
   the same after a 3×3 median (noise, moiré), after unsharp masking (defocus), after glare
   flattening (a bright highlight divided out), and zbar (on the crop, then the frame).
   The rescue works on crops, not whole frames.
4. Motion blur (drivers/deblur.py), when nothing was read: around the first located code,
   else around the frame's densest texture (a smeared code is not located), the blur's
   length and direction are measured and, if there is a clear one, a 384 px crop is
   deconvolved and decoded (2× upscaled; median + upscaled; upscaled + sharpened). A
   featureless frame skips it; `deblur_share` caps its share of real time on streams.

Decoders (names as used in config.yaml `scanner.decoders`):
- `zxing`: zxing-cpp, local-average binarizer, plain text mode (control characters kept,
  GS1 left raw, ECI honoured).
- `zxing-smooth`: zxing-cpp on a 5×5 Gaussian-smoothed frame with the global-histogram
  binarizer (some blurred or low-contrast photos).
- `zxing-median`: zxing-cpp on a 3×3 median-filtered frame (a dim screen's sensor noise,
  a screen's pixel grid).
- `zbar`: libzbar through pyzbar's ctypes wrapper, in *binary* mode so zbar does not guess
  Big5/Shift-JIS and garble UTF-8 (zbar issue #212); only payloads that are valid UTF-8
  are accepted (zbar reports no ECI, so anything else would be a guess). 5–10 ms a frame:
  by default used in the rescue only.

Every step only ever returns a text whose Reed-Solomon check passed (zxing-cpp `valid`, zbar's
own check), so preprocessing can lose a read but does not invent one; the benchmark
(`bench/decode.py`) counts wrong texts on both frame sets and finds none.

Failure modes: `zbar` needs the shared library libzbar0 (Debian/Raspberry Pi OS package);
without it, building the chain raises ScannerError naming the package.
"""

from __future__ import annotations

import contextlib
import ctypes
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from drivers.deblur import deblurred_crop, texture_centre
from drivers.errors import ScannerError
from drivers.opencv import opencv
from drivers.text import decode_scanned

Frame = npt.NDArray[np.uint8]
Region = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels, x1/y1 exclusive
Decoder = Callable[[Frame], list[str]]

DECODER_NAMES = ("zxing", "zxing-smooth", "zxing-median", "zbar")
DEFAULT_CHAIN = ("zxing", "zxing-smooth", "zxing-median")
MAX_RESCUED_REGIONS = 3


@dataclass(frozen=True)
class Reading:
    """What one frame gave: the texts read (empty if none), the regions where codes were read
    or located (for the next frame of a stream), and the step that read the text."""

    texts: list[str]
    regions: list[Region] = field(default_factory=list)
    step: str | None = None


def bytes_to_text(data: bytes) -> str:
    """Text of a byte-mode payload with no ECI: UTF-8 (what phones write), else GB18030
    (Chinese legacy), else Latin-1 (the QR standard's default, never fails)."""
    text = decode_scanned(data)
    return data.decode("latin-1") if text is None else text


class ZxingPass:
    """zxing-cpp on a (possibly preprocessed) frame; reports texts and located regions."""

    def __init__(self, prepare: Callable[[Frame], Frame] | None = None, *,
                 global_histogram: bool = False, thorough: bool = True) -> None:
        import zxingcpp

        self._zxing = zxingcpp
        self._prepare = prepare
        self._options: dict[str, Any] = {
            "formats": zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
            "text_mode": zxingcpp.TextMode.Plain,
            "binarizer": zxingcpp.Binarizer.GlobalHistogram if global_histogram
            else zxingcpp.Binarizer.LocalAverage,
            "return_errors": True,
        }
        if not thorough:  # rescue crops: the code is upright-ish and dark on light already
            self._options.update(try_rotate=False, try_invert=False, try_downscale=False)

    def read(self, frame: Frame) -> tuple[list[str], list[Region]]:
        """Texts read and the regions (frame pixels, before any scaling in `prepare`) of every
        symbol located, read or not."""
        image = self._prepare(frame) if self._prepare else frame
        scale_x = frame.shape[1] / image.shape[1]
        scale_y = frame.shape[0] / image.shape[0]
        texts, regions = [], []
        for barcode in self._zxing.read_barcodes(image, **self._options):
            if barcode.valid:
                texts.append(barcode.text)
            position = barcode.position
            corners = (position.top_left, position.top_right, position.bottom_right,
                       position.bottom_left)
            xs = [point.x * scale_x for point in corners]
            ys = [point.y * scale_y for point in corners]
            regions.append((int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1))
        return texts, regions

    def __call__(self, frame: Frame) -> list[str]:
        return self.read(frame)[0]


class ZbarBinaryDecoder:
    """libzbar in binary mode, QR only; one scanner kept for the decoder's lifetime.

    With `utf8_only` (the default, and what the chain uses) a payload that is not valid UTF-8
    is dropped rather than guessed: zbar does not report ECI, and a Shift-JIS payload read as
    GB18030 would be a wrong text (zxing-cpp, which honours ECI, reads those)."""

    def __init__(self, *, utf8_only: bool = True) -> None:
        self._utf8_only = utf8_only
        try:
            from pyzbar import wrapper as zbar
        except ImportError as error:  # pyzbar raises ImportError when libzbar is missing
            raise ScannerError(
                "the zbar decoder needs libzbar: install it with `apt-get install libzbar0`"
            ) from error
        self._zbar = zbar
        self._scanner = zbar.zbar_image_scanner_create()
        if not self._scanner:
            raise ScannerError("libzbar could not create an image scanner")
        for setting in (b"disable", b"qrcode.enable", b"qrcode.binary"):
            symbology, config, value = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
            if zbar.zbar_parse_config(
                setting, ctypes.byref(symbology), ctypes.byref(config), ctypes.byref(value)
            ):
                raise ScannerError(f"this libzbar does not know the setting {setting.decode()}")
            zbar.zbar_image_scanner_set_config(self._scanner, symbology, config, value)

    def read(self, frame: Frame) -> tuple[list[str], list[Region]]:
        return self(frame), []

    def __call__(self, frame: Frame) -> list[str]:
        zbar = self._zbar
        pixels = np.ascontiguousarray(frame, dtype=np.uint8)
        height, width = pixels.shape[:2]
        image = zbar.zbar_image_create()
        try:
            zbar.zbar_image_set_format(image, _fourcc(b"Y800"))
            zbar.zbar_image_set_size(image, width, height)
            zbar.zbar_image_set_data(image, pixels.ctypes.data, pixels.nbytes, None)
            if zbar.zbar_scan_image(self._scanner, image) <= 0:
                return []
            texts = []
            symbol = zbar.zbar_image_first_symbol(image)
            while symbol:
                length = zbar.zbar_symbol_get_data_length(symbol)
                data = ctypes.string_at(zbar.zbar_symbol_get_data(symbol), length)
                if self._utf8_only:
                    with contextlib.suppress(UnicodeDecodeError):
                        texts.append(data.decode("utf-8"))
                else:
                    texts.append(bytes_to_text(data))
                symbol = zbar.zbar_symbol_next(symbol)
            return texts
        finally:
            zbar.zbar_image_destroy(image)

    def __del__(self) -> None:
        scanner: Any = getattr(self, "_scanner", None)
        if scanner:
            self._zbar.zbar_image_scanner_destroy(scanner)


def _fourcc(code: bytes) -> int:
    return code[0] | code[1] << 8 | code[2] << 16 | code[3] << 24


# --- preprocessing (OpenCV), each a Frame → Frame ------------------------------------------


def smooth(frame: Frame) -> Frame:
    cv2 = opencv()

    return np.asarray(cv2.GaussianBlur(frame, (5, 5), 0), dtype=np.uint8)


def median3(frame: Frame) -> Frame:
    cv2 = opencv()

    return np.asarray(cv2.medianBlur(frame, 3), dtype=np.uint8)


def upscale2(frame: Frame) -> Frame:
    """2× bicubic; a crop already larger than 480×480 is left as it is (its modules are big
    enough, and upscaling it would cost tens of milliseconds)."""
    if frame.shape[0] * frame.shape[1] > 480 * 480:
        return frame
    cv2 = opencv()

    return np.asarray(cv2.resize(frame, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC),
                      dtype=np.uint8)


def sharpen(frame: Frame) -> Frame:
    """Unsharp mask: the frame plus its difference from a σ = 2 blur."""
    cv2 = opencv()

    return np.asarray(cv2.addWeighted(frame, 2.0, cv2.GaussianBlur(frame, (0, 0), 2.0), -1.0, 0),
                      dtype=np.uint8)


def flatten_glare(frame: Frame) -> Frame:
    """Divide out the slowly varying brightness (a highlight, a reflection, uneven light):
    the background estimated by a closing larger than a module, then blurred."""
    cv2 = opencv()

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (31, 31))
    background = cv2.GaussianBlur(cv2.morphologyEx(frame, cv2.MORPH_CLOSE, kernel), (0, 0), 10)
    ratio = frame.astype(np.float32) / np.maximum(background.astype(np.float32), 1.0)
    return np.asarray(np.clip(ratio * 200.0, 0, 255), dtype=np.uint8)


def make_decoder(name: str) -> ZxingPass | ZbarBinaryDecoder:
    if name == "zxing":
        return ZxingPass()
    if name == "zxing-smooth":
        return ZxingPass(smooth, global_histogram=True)
    if name == "zxing-median":
        return ZxingPass(median3)
    if name == "zbar":
        return ZbarBinaryDecoder()
    raise ScannerError(f"unknown decoder {name!r}; known: {', '.join(DECODER_NAMES)}")


def _rescue_steps(zbar: ZbarBinaryDecoder,
                  ) -> list[tuple[str, Callable[[Frame], tuple[list[str], list[Region]]]]]:
    return [
        ("upscale", ZxingPass(upscale2, thorough=False).read),
        ("median-upscale", ZxingPass(lambda crop: upscale2(median3(crop)), thorough=False).read),
        ("sharpen-upscale", ZxingPass(lambda crop: sharpen(upscale2(crop)), thorough=False).read),
        ("deglare", ZxingPass(lambda crop: flatten_glare(upscale2(crop)), thorough=False).read),
        ("zbar", zbar.read),
        ("zbar-upscale", lambda crop: zbar.read(upscale2(crop))),
    ]


def grow(region: Region, shape: tuple[int, ...], margin: float = 0.25) -> Region:
    """`region` widened by `margin` of its size (at least 8 px) each side, inside the frame."""
    x0, y0, x1, y1 = region
    pad = int(max(x1 - x0, y1 - y0) * margin) + 8
    return max(0, x0 - pad), max(0, y0 - pad), min(shape[1], x1 + pad), min(shape[0], y1 + pad)


def _distinct(regions: Sequence[Region]) -> list[Region]:
    """Regions without near-duplicates (one symbol is often located by several passes)."""
    kept: list[Region] = []
    for region in regions:
        if region[2] - region[0] < 8 or region[3] - region[1] < 8:
            continue
        if not any(_overlap(region, other) > 0.6 for other in kept):
            kept.append(region)
    return kept


def _overlap(a: Region, b: Region) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / smaller


class Budget:
    """A share of wall-clock time that a step may use, as a token bucket: `share` seconds of
    work are earned per second (at most `burst` seconds saved up), and a step may start
    while the balance is positive. `share=None` is no limit (single images)."""

    def __init__(self, share: float | None, burst: float = 0.25,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if share is not None and not 0.0 < share <= 1.0:
            raise ScannerError(f"a time budget's share must be in (0, 1], not {share}")
        self.share = share
        self._burst = burst
        self._monotonic = monotonic
        self._balance = burst
        self._last = monotonic()

    def allows(self) -> bool:
        if self.share is None:
            return True
        now = self._monotonic()
        self._balance = min(self._burst, self._balance + (now - self._last) * self.share)
        self._last = now
        return self._balance > 0.0

    def spend(self, seconds: float) -> None:
        if self.share is not None:
            self._balance -= seconds


class DecoderChain:
    """The staged chain (module docstring). `rescue=False` leaves only the fast path;
    `deblur_share` caps the motion-blur step (stage 4) at that share of wall-clock time, for
    streams whose frames may all look blurred (None: no cap)."""

    def __init__(self, names: Sequence[str] = DEFAULT_CHAIN, *, rescue: bool = True,
                 deblur_share: float | None = None) -> None:
        if not names:
            raise ScannerError("the decoder chain is empty")
        self._budget = Budget(deblur_share)
        self.names = tuple(names)
        self._decoders = [(name, make_decoder(name)) for name in self.names]
        self._hint_pass = ZxingPass(thorough=False)
        self._zbar = ZbarBinaryDecoder()
        self._rescue = _rescue_steps(self._zbar) if rescue else []
        # a deblurred crop 2× upscaled (a heavy blur's modules come back 1–2 px wide), the
        # same after a median (the filter's amplified noise), and upscaled then sharpened (a
        # far code's 2 px modules, still soft); the crop as it is reads nothing these miss
        self._deblur_passes = [
            ("deblur-upscale", ZxingPass(upscale2, thorough=False)),
            ("deblur-median-upscale", ZxingPass(lambda crop: upscale2(median3(crop)),
                                                thorough=False)),
            ("deblur-sharpen-upscale", ZxingPass(lambda crop: sharpen(upscale2(crop)),
                                                 thorough=False)),
        ]

    def decode(self, frame: Frame) -> list[str]:
        """Texts of the QR codes in a grayscale (or BGR, converted here) frame; [] if none."""
        return self.read(frame).texts

    def read(self, frame: Frame, hints: Sequence[Region] = ()) -> Reading:
        """Read a frame, trying the `hints` regions first (module docstring)."""
        frame = to_gray(frame)
        for hint in hints:
            x0, y0, x1, y1 = grow(hint, frame.shape)
            texts, _ = self._hint_pass.read(frame[y0:y1, x0:x1])
            if texts:
                return Reading(_unique(texts), [hint], "hint")
        located: list[Region] = list(hints)
        for name, decoder in self._decoders:
            texts, regions = decoder.read(frame)
            if texts:
                return Reading(_unique(texts), regions, name)
            located += regions
        regions = _distinct(located)
        if not self._rescue:
            return Reading([], regions)
        for region in regions[:MAX_RESCUED_REGIONS]:
            x0, y0, x1, y1 = grow(region, frame.shape)
            crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
            for name, step in self._rescue:
                texts, _ = step(crop)
                if texts:
                    return Reading(_unique(texts), [region], name)
        if regions and "zbar" not in self.names:  # zbar finds some codes by their surroundings
            texts = self._zbar(frame)
            if texts:
                return Reading(_unique(texts), regions[:1], "zbar-frame")
        return self._deblur(frame, regions)

    def _deblur(self, frame: Frame, regions: list[Region]) -> Reading:
        """Stage 4: undo a linear motion blur (drivers/deblur.py) around the first located
        code, else around the frame's densest texture (a smeared code is not located), and
        decode the result. Only where a clear blur is measured: elsewhere it costs ~1.5 ms."""
        if not self._budget.allows():
            return Reading([], regions)
        started = time.perf_counter()
        try:
            return self._deblur_at(frame, regions)
        finally:
            self._budget.spend(time.perf_counter() - started)

    def _deblur_at(self, frame: Frame, regions: list[Region]) -> Reading:
        centres = [((r[0] + r[2]) // 2, (r[1] + r[3]) // 2) for r in regions[:1]]
        texture = texture_centre(frame)
        if texture is not None and not any(abs(texture[0] - x) + abs(texture[1] - y) < 64
                                           for x, y in centres):
            centres.append(texture)
        for centre in centres:
            found = deblurred_crop(frame, centre)
            if found is None:
                continue
            crop, region, _ = found
            for name, step in self._deblur_passes:
                texts, _ = step.read(crop)
                if texts:
                    return Reading(_unique(texts), [region], name)
        return Reading([], regions)


def _unique(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def to_gray(frame: Frame) -> Frame:
    """A grayscale view of a grayscale or BGR frame."""
    if frame.ndim == 3:
        cv2 = opencv()

        return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    return frame


def read_image(path: str) -> Frame:
    """A file as a grayscale frame. Raises ScannerError naming the file when it cannot be read."""
    cv2 = opencv()

    frame = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if frame is None:
        raise ScannerError(f"{path}: not a readable image")
    return np.asarray(frame, dtype=np.uint8)
