"""Motion-blur rescue: find a linear blur in a patch, and undo it with a Wiener filter.

A phone raised towards the camera smears the code along its path: at 9–14 px (2–4 modules)
the finder patterns are gone and no decoder even locates the code. The smear is a line
point-spread function (PSF) of some length and direction, and both can be read off the
patch itself: its spectrum is the code's times a sinc across the motion, whose periodic
zeros put a sharp negative peak into the *cepstrum* (inverse transform of the log spectrum)
at the blur's length, in its direction. A code's own module grid makes peaks too, but only
at one module (3–5 px) and its multiples along the module axes, so the search starts at 6 px
and the blur must stand out clearly from the rest of the ring (`MIN_PROMINENCE`). A sharp,
axis-aligned code can still show a peak at two modules: harmless, since the chain's fast
path reads sharp codes before this step, and an unreadable one costs one deconvolution.

Cost: finding where the texture is (`texture_centre`, a 320×240 gradient map) ~0.3 ms,
the blur estimate on a 384×384 patch ~2.6 ms (two float32 OpenCV transforms), the Wiener
filter on a 384×384 crop ~2–3 ms (three; CPU times on this 2-core x86 machine); the chain then
decodes the crop (up to three zxing-cpp passes, 1–2.5 ms each, drivers/decoders.py).

Failure modes: none raised; a patch with no clear linear blur gives None from
`estimate_blur` (the caller then skips the deconvolution), and a deconvolved crop is only
ever handed to a decoder, whose error correction decides whether anything is read.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drivers.opencv import opencv

Frame = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float32]

ESTIMATE_SIZE = 384  # patch for the blur estimate: several codewords, fast FFT size
CROP_SIZE = 384  # crop that is deconvolved: a whole code held at 20–40 cm, quiet zone included
MIN_LENGTH, MAX_LENGTH = 6.0, 24.0  # px: shorter blurs the plain decoders read already
MIN_PROMINENCE = 5.0  # cepstral peak depth, in standard deviations of the search ring
# Densest texture (mean square-rooted gradient) below which a frame is taken as showing no
# code: the dimmest hard frames reach 7.5, a grey scene with sensor noise σ 2 reaches 4.8,
# a flat frame 0 (the fake camera's idle view).
MIN_TEXTURE = 4.0
# Noise-to-signal ratio of the Wiener filter. 0.002 with the chain's three passes on the
# crop (2× upscaled; median then upscaled; upscaled then sharpened) reads every blurred frame
# that 0.006 with (as is, upscaled, median + upscaled) read: the same 18 hard frames, plus 8 of
# the sequences' first fully-in-view frames (15–21 px blurs as the phone is still rising),
# which 0.006 left to the next, slower frames (measured over 0.001–0.012).
WIENER_K = 0.002


@dataclass(frozen=True)
class Blur:
    """A linear motion blur: `length` in pixels, `angle` in degrees (0–180, image x axis
    towards image y axis), and how clearly it stood out (`prominence`)."""

    length: float
    angle: float
    prominence: float


def texture_centre(frame: Frame) -> tuple[int, int] | None:
    """Frame pixel at the centre of the densest texture: the square root of the gradient
    magnitude (so that many weak edges outweigh a few strong ones: a code, even a dim or a
    smeared one, against the scene's outlines) averaged over a ~140 px square of a half-size
    frame. Found inside the code on 232 of the 240 hard frames (plain gradient energy on a
    quarter-size frame: 157). None if even the densest texture is below MIN_TEXTURE (a blank
    or featureless view: nothing to deblur)."""
    cv2 = opencv()

    height, width = frame.shape[:2]
    small = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA).astype(np.float32)
    gradient = np.abs(cv2.Sobel(small, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(small, cv2.CV_32F,
                                                                              0, 1))
    energy = cv2.boxFilter(cv2.sqrt(gradient), -1, (70, 70))
    y, x = np.unravel_index(int(np.argmax(energy)), energy.shape)
    if float(energy[y, x]) < MIN_TEXTURE:
        return None
    return int((x + 0.5) * width / 320), int((y + 0.5) * height / 240)


def square_around(centre: tuple[int, int], size: int,
                  shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a `size` square (smaller if the frame is) centred as near to
    `centre` as the frame allows."""
    side = min(size, shape[0], shape[1])
    x0 = min(max(0, centre[0] - side // 2), shape[1] - side)
    y0 = min(max(0, centre[1] - side // 2), shape[0] - side)
    return x0, y0, x0 + side, y0 + side


def estimate_blur(patch: Frame) -> Blur | None:
    """The linear blur of `patch` from its cepstrum's deepest negative peak between
    MIN_LENGTH and MAX_LENGTH pixels from the origin; None if it does not stand out by
    MIN_PROMINENCE (no blur, a round blur, or too little texture)."""
    cv2 = opencv()

    height, width = patch.shape
    if min(height, width) < 4 * MAX_LENGTH:
        return None
    values = patch.astype(np.float32)
    values -= float(values.mean())
    values *= cv2.createHanningWindow((width, height), cv2.CV_32F)
    spectrum = cv2.dft(values, flags=cv2.DFT_COMPLEX_OUTPUT)
    magnitude = cv2.magnitude(spectrum[..., 0], spectrum[..., 1])
    peak = float(magnitude.max())
    if peak <= 0.0:
        return None
    # The log spectrum of a real patch is real and even, so its inverse transform (the
    # cepstrum) is real and equals its forward transform divided by the size: one float32
    # OpenCV transform (~1.3 ms on 384×384, against ~3.5 ms for NumPy's float64 inverse).
    log_spectrum = np.log(magnitude + np.float32(1e-3 * peak))
    cepstrum = np.fft.fftshift(
        cv2.dft(log_spectrum, flags=cv2.DFT_COMPLEX_OUTPUT)[..., 0] / (height * width))
    cy, cx = height // 2, width // 2
    ring = _ring(height, width)
    ring_values = cepstrum[ring]
    spread = float(ring_values.std())
    if spread <= 0.0:
        return None
    y, x = np.unravel_index(int(np.argmin(np.where(ring, cepstrum, np.inf))), cepstrum.shape)
    prominence = (float(ring_values.mean()) - float(cepstrum[y, x])) / spread
    if prominence < MIN_PROMINENCE:
        return None
    # Sub-pixel position: the centroid of the peak's 3×3 neighbourhood (depth above its rim).
    around = -cepstrum[y - 1:y + 2, x - 1:x + 2]
    around = around - around.min()
    total = float(around.sum())
    offset = np.arange(-1, 2)
    dy = y - cy + (float((around.sum(axis=1) * offset).sum()) / total if total else 0.0)
    dx = x - cx + (float((around.sum(axis=0) * offset).sum()) / total if total else 0.0)
    return Blur(math.hypot(dy, dx), math.degrees(math.atan2(dy, dx)) % 180.0, prominence)


@functools.lru_cache(maxsize=4)
def _ring(height: int, width: int) -> npt.NDArray[np.bool_]:
    """Cepstrum positions (origin at the centre) between MIN_LENGTH and MAX_LENGTH from the
    origin, in one half plane (the cepstrum of a real patch is symmetric)."""
    cy, cx = height // 2, width // 2
    ys, xs = np.mgrid[-cy:height - cy, -cx:width - cx]
    radius = np.hypot(ys, xs)
    return np.asarray((radius >= MIN_LENGTH) & (radius <= MAX_LENGTH)
                      & ((ys < 0) | ((ys == 0) & (xs > 0))))


def line_psf(length: float, angle: float) -> Floats:
    """A line of `length` pixels at `angle` degrees, summing to 1, centred in an odd square:
    the blur of a point moving uniformly during the exposure. Drawn as a digital line, one
    pixel per step of its longer axis between rounded end points: a wider line (bilinear
    spreading, or two pixels where it crosses a row) makes the filter sharpen across the
    motion too and amplify noise (measured on the hard frames' 42 motion frames, k = 0.002:
    13 read with a bilinear line, 15 with rounded samples, 20 with the digital line)."""
    size = math.ceil(length) | 1
    kernel = np.zeros((size, size), dtype=np.float32)
    centre = size // 2
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    half = (length - 1) / 2
    # Integer end points, then one pixel per step of the longer axis between them.
    x0, x1 = (round(centre + sign * half * cos) for sign in (-1, 1))
    y0, y1 = (round(centre + sign * half * sin) for sign in (-1, 1))
    steps = max(abs(x1 - x0), abs(y1 - y0)) + 1
    xs = np.clip(np.rint(np.linspace(x0, x1, steps)), 0, size - 1).astype(int)
    ys = np.clip(np.rint(np.linspace(y0, y1, steps)), 0, size - 1).astype(int)
    kernel[ys, xs] = 1.0
    return np.asarray(kernel / kernel.sum(), dtype=np.float32)


def wiener(image: Frame, psf: Floats, k: float = WIENER_K) -> Floats:
    """`image` deconvolved by `psf` with a Wiener filter of noise-to-signal ratio `k`
    (circular: the crop's borders ring, its centre does not). Three float32 OpenCV
    transforms: about half the time of NumPy's float64 ones, the same image to 1e-6 of its
    range."""
    cv2 = opencv()

    height, width = image.shape
    padded = np.zeros((height, width), dtype=np.float32)
    ph, pw = psf.shape
    padded[:ph, :pw] = psf
    padded = np.roll(padded, (-(ph // 2), -(pw // 2)), axis=(0, 1))
    transfer = cv2.dft(padded, flags=cv2.DFT_COMPLEX_OUTPUT)
    observed = cv2.dft(image.astype(np.float32), flags=cv2.DFT_COMPLEX_OUTPUT)
    numerator = cv2.mulSpectrums(observed, transfer, 0, conjB=True)
    gain = cv2.magnitude(transfer[..., 0], transfer[..., 1])
    numerator /= (gain * gain + np.float32(k))[..., None]
    # the spectrum of a real image is conjugate-symmetric: the inverse is real
    restored = cv2.idft(numerator, flags=cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT)
    return np.asarray(restored, dtype=np.float32)


def stretch(image: Floats) -> Frame:
    """8-bit image with the 1st–99th percentile range stretched to 0–255 (the Wiener
    filter's ringing overshoots beyond both ends)."""
    cv2 = opencv()

    low, high = (float(v) for v in np.percentile(image[::4, ::4], (1, 99)))
    scale = 255.0 / max(high - low, 1e-6)
    return np.asarray(cv2.convertScaleAbs(image, alpha=scale, beta=-low * scale),
                      dtype=np.uint8)


def deblurred_crop(frame: Frame, centre: tuple[int, int],
                   ) -> tuple[Frame, tuple[int, int, int, int], Blur] | None:
    """The CROP_SIZE crop around `centre` with its motion blur undone, the crop's region in
    the frame, and the blur; None if the patch around `centre` shows no clear linear blur."""
    ex0, ey0, ex1, ey1 = square_around(centre, ESTIMATE_SIZE, frame.shape)
    blur = estimate_blur(frame[ey0:ey1, ex0:ex1])
    if blur is None:
        return None
    x0, y0, x1, y1 = square_around(centre, CROP_SIZE, frame.shape)
    restored = stretch(wiener(frame[y0:y1, x0:x1], line_psf(blur.length, blur.angle)))
    return restored, (x0, y0, x1, y1), blur
