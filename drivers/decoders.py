"""QR decoding of grayscale frames with a configurable chain of decoders.

Each decoder takes a 2-D uint8 array and returns the texts it found. The chain runs decoders
in order and stops at the first that finds anything, so the cheap, strong one (zxing-cpp)
answers almost every frame and the others only see the frames it could not read.

Decoders (names as used in config.yaml `scanner.decoders`):
- `zxing`: zxing-cpp, local-average binarizer, plain text mode (control characters kept,
  GS1 left raw, ECI honoured).
- `zbar`: libzbar through pyzbar's ctypes wrapper, in *binary* mode so zbar does not guess
  Big5/Shift-JIS and garble UTF-8 (zbar issue #212); the bytes are decoded here as UTF-8,
  else GB18030, else Latin-1.
- `zxing-smooth`: zxing-cpp on a 5×5 Gaussian-smoothed frame with the global-histogram
  binarizer, which reads some blurred or low-contrast photos the other two miss.

Failure modes: `zbar` needs the shared library libzbar0 (Debian/Raspberry Pi OS package);
without it, building the chain raises ScannerError naming the package.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from drivers.errors import ScannerError
from drivers.text import decode_scanned

Frame = npt.NDArray[np.uint8]
Decoder = Callable[[Frame], list[str]]

DEFAULT_CHAIN = ("zxing", "zbar", "zxing-smooth")


def bytes_to_text(data: bytes) -> str:
    """Text of a byte-mode payload with no ECI: UTF-8 (what phones write), else GB18030
    (Chinese legacy), else Latin-1 (the QR standard's default, never fails)."""
    text = decode_scanned(data)
    return data.decode("latin-1") if text is None else text


def _zxing_decoder(smooth: bool) -> Decoder:
    import zxingcpp

    qr = zxingcpp.BarcodeFormat.QRCode
    plain = zxingcpp.TextMode.Plain
    binarizer = zxingcpp.Binarizer.GlobalHistogram if smooth else zxingcpp.Binarizer.LocalAverage

    def decode(frame: Frame) -> list[str]:
        if smooth:
            import cv2

            frame = np.asarray(cv2.GaussianBlur(frame, (5, 5), 0), dtype=np.uint8)
        found = zxingcpp.read_barcodes(frame, formats=zxingcpp.BarcodeFormats(qr),
                                       text_mode=plain, binarizer=binarizer)
        return [barcode.text for barcode in found if barcode.valid]

    return decode


class ZbarBinaryDecoder:
    """libzbar in binary mode, QR only; one scanner kept for the decoder's lifetime."""

    def __init__(self) -> None:
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


def make_decoder(name: str) -> Decoder:
    if name == "zxing":
        return _zxing_decoder(smooth=False)
    if name == "zxing-smooth":
        return _zxing_decoder(smooth=True)
    if name == "zbar":
        return ZbarBinaryDecoder()
    raise ScannerError(f"unknown decoder {name!r}; known: zxing, zbar, zxing-smooth")


class DecoderChain:
    """Decoders tried in order; the first that finds anything answers."""

    def __init__(self, names: Sequence[str] = DEFAULT_CHAIN) -> None:
        if not names:
            raise ScannerError("the decoder chain is empty")
        self.names = tuple(names)
        self._decoders = [make_decoder(name) for name in self.names]

    def decode(self, frame: Frame) -> list[str]:
        """Texts of the QR codes in a grayscale (or BGR, converted here) frame; [] if none."""
        if frame.ndim == 3:
            import cv2

            frame = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
        for decoder in self._decoders:
            texts = decoder(frame)
            if texts:
                return list(dict.fromkeys(texts))
        return []


def read_image(path: str) -> Frame:
    """A file as a grayscale frame. Raises ScannerError naming the file when it cannot be read."""
    import cv2

    frame = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if frame is None:
        raise ScannerError(f"{path}: not a readable image")
    return np.asarray(frame, dtype=np.uint8)
