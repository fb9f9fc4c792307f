"""Motion-blur rescue: blur estimate, line PSF, deconvolution in the chain, never a wrong text,
and the time budget that caps it on streams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivers.deblur import (
    MIN_PROMINENCE,
    deblurred_crop,
    estimate_blur,
    line_psf,
    square_around,
    stretch,
    texture_centre,
    wiener,
)
from drivers.decoders import Budget, DecoderChain, ZxingPass
from drivers.errors import ScannerError
from drivers.fake_camera import qr_frame
from drivers.opencv import opencv
from tests.conftest import ED25519_VECTOR


def smear(frame: np.ndarray, length: int, angle: float, noise: float = 2.0) -> np.ndarray:
    """`frame` moved `length` px at `angle` degrees during the exposure, plus sensor noise.
    The PSF is drawn with OpenCV's line (not the chain's own `line_psf`)."""
    cv2 = opencv()
    size = length | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx = math.cos(math.radians(angle)) * (length - 1) / 2
    dy = math.sin(math.radians(angle)) * (length - 1) / 2
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    out = cv2.filter2D(frame.astype(np.float32), -1, kernel / kernel.sum())
    out += np.random.default_rng(7).normal(0, noise, out.shape).astype(np.float32)
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8)


def patch_at_texture(frame: np.ndarray) -> np.ndarray:
    centre = texture_centre(frame)
    assert centre is not None
    x0, y0, x1, y1 = square_around(centre, 256, frame.shape)
    return frame[y0:y1, x0:x1]


@pytest.mark.parametrize(("length", "angle"), [(9, 70), (11, 100), (12, 60), (13, 85)])
def test_a_smeared_code_is_read_by_the_deblur_step_only(length: int, angle: float) -> None:
    frame = smear(qr_frame(ED25519_VECTOR, module_px=4), length, angle)
    assert DecoderChain(rescue=False).read(frame).texts == []  # nothing else reads it
    reading = DecoderChain().read(frame)
    assert reading.texts == [ED25519_VECTOR]
    assert reading.step is not None and reading.step.startswith("deblur")


def rising_phone(length: float, code_px: float, tilt: float) -> tuple[np.ndarray, str]:
    """A frame of a phone still being raised (bench/hardframes.py, the sequences' renderer):
    a THP1 code `code_px` wide, turned `tilt` degrees, smeared `length` px upwards."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from hardframes import Look, Pose, render, thp1_texts

    text = thp1_texts(2)[1]
    frame, _ = render(text, Pose(cx=320, cy=250, code_px=code_px, roll=2.0, yaw=0.4 * tilt,
                                 pitch=tilt), Look(motion_px=length, motion_angle=82.0), seed=7)
    return frame, text


@pytest.mark.parametrize("length", [15.0, 17.0, 19.0, 21.0])
def test_a_phone_still_rising_is_read_by_the_deblur_step(length: float) -> None:
    # 15–21 px smears: the first fully-in-view frames of the sequences (at this pose the
    # earlier k = 0.006 with the crop as it is read 15–19 px, not 21 px).
    frame, text = rising_phone(length, code_px=196.0, tilt=8.0)
    assert DecoderChain(rescue=False).read(frame).texts == []
    reading = DecoderChain().read(frame)
    assert reading.texts == [text]
    assert reading.step in ("deblur-upscale", "deblur-median-upscale")


@pytest.mark.parametrize("length", [7.0, 8.0])
def test_a_far_phone_smeared_a_few_modules_is_read_deblurred_and_sharpened(
        length: float) -> None:
    # 1.9 px per module and a 7–8 px smear: the far sequences' frame before they slow down
    # (unread without the sharpening pass)
    frame, text = rising_phone(length, code_px=100.0, tilt=8.0)
    reading = DecoderChain().read(frame)
    assert reading.texts == [text] and reading.step == "deblur-sharpen-upscale"


@pytest.mark.parametrize(("length", "angle"), [(9, 70), (12, 60), (13, 85)])
def test_the_blur_is_measured_within_a_pixel_and_a_few_degrees(length: int,
                                                               angle: float) -> None:
    blur = estimate_blur(patch_at_texture(smear(qr_frame(ED25519_VECTOR, module_px=4),
                                                length, angle)))
    assert blur is not None
    assert abs(blur.length - length) < 1.0
    assert abs((blur.angle - angle + 90) % 180 - 90) < 6.0
    assert blur.prominence >= MIN_PROMINENCE


def test_a_sharp_code_is_read_before_any_deblurring_and_a_blank_frame_shows_no_blur() -> None:
    # A sharp code's module grid can pass for a blur of two modules (drivers/deblur.py):
    # harmless, as the fast path reads a sharp code before stage 4 runs.
    assert DecoderChain().read(qr_frame(ED25519_VECTOR, module_px=4)).step == "zxing"
    blank = np.full((480, 640), 200, dtype=np.uint8)
    assert texture_centre(blank) is None
    assert estimate_blur(blank[:256, :256]) is None
    assert deblurred_crop(blank, (320, 240)) is None


def test_a_patch_too_small_for_the_search_is_not_measured() -> None:
    assert estimate_blur(np.zeros((40, 40), dtype=np.uint8)) is None


@pytest.mark.parametrize(("length", "angle"), [(6.0, 0.0), (9.3, 74.0), (14.2, 135.0),
                                               (20.0, 90.0)])
def test_line_psf_is_a_one_pixel_digital_line(length: float, angle: float) -> None:
    psf = line_psf(length, angle)
    assert psf.shape[0] == psf.shape[1] and psf.shape[0] % 2 == 1
    assert math.isclose(float(psf.sum()), 1.0, rel_tol=1e-5)
    ys, xs = np.nonzero(psf)
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    major = xs if cos >= sin else ys
    assert len(set(major.tolist())) == len(major)  # one pixel per step of the longer axis
    assert abs(len(major) - 1 - (length - 1) * max(cos, sin)) <= 1.0  # its extent
    assert np.allclose(psf, psf[::-1, ::-1])  # centred: no shift of the deblurred image


def test_deblurring_never_invents_a_text() -> None:
    # Wrong blur guesses, noise, and a smeared non-code texture: a text comes back only if
    # the code's error correction passed, so either nothing or the exact text.
    chain = DecoderChain()
    code = smear(qr_frame(ED25519_VECTOR, module_px=4), 12, 60)
    texture = smear(np.random.default_rng(3).integers(0, 2, (480, 640)).astype(np.uint8) * 255,
                    12, 60)
    noise = np.random.default_rng(4).integers(0, 256, (480, 640)).astype(np.uint8)
    for frame in (texture, noise):
        assert chain.read(frame).texts == []

    decoder = ZxingPass(thorough=False)
    x0, y0, x1, y1 = square_around((320, 240), 384, code.shape)
    for length in (6.0, 8.0, 10.0, 14.0, 18.0):
        for angle in (0.0, 30.0, 60.0, 90.0, 150.0):
            texts, _ = decoder.read(stretch(wiener(code[y0:y1, x0:x1], line_psf(length, angle))))
            assert texts in ([], [ED25519_VECTOR])


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_budget_caps_a_steps_share_of_time() -> None:
    clock = FakeClock()
    budget = Budget(0.1, burst=0.25, monotonic=clock)
    assert budget.allows()
    budget.spend(0.3)  # the burst and more, spent at once
    assert not budget.allows()
    clock.now += 0.4  # earns 0.04 s: still in debt
    assert not budget.allows()
    clock.now += 0.2  # 0.06 s more: the debt of 0.05 s is paid
    assert budget.allows()
    clock.now += 1000.0  # savings stop at the burst
    assert budget.allows()
    budget.spend(0.26)
    assert not budget.allows()


def test_no_budget_means_no_limit_and_a_bad_share_is_refused() -> None:
    unlimited = Budget(None)
    unlimited.spend(1e6)
    assert unlimited.allows()
    for share in (0.0, -0.1, 1.5):
        with pytest.raises(ScannerError, match="share"):
            Budget(share)


def test_an_exhausted_budget_skips_the_deblur_step() -> None:
    frame = smear(qr_frame(ED25519_VECTOR, module_px=4), 12, 60)
    chain = DecoderChain(deblur_share=0.01)
    chain._budget.spend(10.0)  # as if a long stream of blurred frames had used it up
    assert chain.read(frame).texts == []
