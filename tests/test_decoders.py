"""Decoder chain: real QR images, Chinese UTF-8 text through every decoder, file errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivers.decoders import DecoderChain, bytes_to_text, make_decoder, read_image
from drivers.errors import ScannerError
from drivers.fake_camera import qr_frame

DATASET = Path(__file__).resolve().parents[2] / "shared/datasets/qr-blackbox"
CHINESE = "红炉镇企业入厂登记：张* 体温36.5℃ 绿码"


@pytest.mark.parametrize("name", ["zxing", "zbar", "zxing-smooth", "zxing-median"])
def test_every_decoder_reads_chinese_utf8_exactly(name: str) -> None:
    assert make_decoder(name)(qr_frame(CHINESE)) == [CHINESE]


@pytest.mark.parametrize("name", ["zxing", "zbar", "zxing-smooth", "zxing-median"])
def test_every_decoder_reads_a_thp1_code(name: str) -> None:
    from tests.conftest import ED25519_VECTOR

    assert make_decoder(name)(qr_frame(ED25519_VECTOR, frame_size=(600, 800))) == [ED25519_VECTOR]


def test_zbar_raw_mode_does_not_guess_shift_jis() -> None:
    # Short CJK UTF-8 strings are the ones zbar's own guessing turns into mojibake.
    for text in ("阿", "张三", "健康码"):
        assert make_decoder("zbar")(qr_frame(text)) == [text]


def test_bytes_without_eci_fall_back_to_gb18030_then_latin1() -> None:
    assert bytes_to_text("健康".encode()) == "健康"
    assert bytes_to_text("健康".encode("gb18030")) == "健康"
    assert bytes_to_text(b"\xff\xfe\xfd") == "\xff\xfe\xfd"


def test_chain_returns_nothing_for_a_blank_frame() -> None:
    assert DecoderChain().decode(np.full((480, 640), 200, dtype=np.uint8)) == []


def test_chain_converts_colour_frames() -> None:
    gray = qr_frame("hello")
    colour = np.dstack([gray, gray, gray])
    assert DecoderChain().decode(colour) == ["hello"]


def test_unknown_decoder_and_empty_chain_are_clear_errors() -> None:
    with pytest.raises(ScannerError, match="unknown decoder"):
        DecoderChain(["quagga"])
    with pytest.raises(ScannerError, match="empty"):
        DecoderChain([])


def test_unreadable_image_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "not-an-image.png"
    bad.write_text("hello")
    with pytest.raises(ScannerError, match=r"not-an-image\.png"):
        read_image(str(bad))


@pytest.mark.skipif(not DATASET.is_dir(), reason="shared dataset not present")
def test_chain_decodes_real_photos_byte_exact() -> None:
    chain = DecoderChain()
    cases = [("qrcode-1/1", ".webp"), ("qrcode-2/33", ".png"), ("qrcode-4/08", ".webp")]
    for stem, ext in cases:
        expected = (DATASET / f"{stem}.txt").read_bytes()
        texts = chain.decode(read_image(str(DATASET / f"{stem}{ext}")))
        assert [t.encode() for t in texts] == [expected], stem


def test_config_default_chain_is_the_drivers_default() -> None:
    from drivers.decoders import DEFAULT_CHAIN
    from station.config import ScannerSettings

    assert ScannerSettings().decoders == DEFAULT_CHAIN


def test_a_dim_noisy_screen_is_read_by_a_later_step_not_the_first() -> None:
    # A real code on a dim, noisy screen: zxing-cpp alone misses it, the chain reads it.
    rng = np.random.default_rng(7)
    frame = qr_frame("THP1:" + "A1B2C3" * 40, module_px=3).astype(np.float32)
    dim = 40 + (frame - frame.min()) * (25 / 255) + rng.normal(0, 8, frame.shape)
    dim_frame = np.clip(dim, 0, 255).astype(np.uint8)
    assert make_decoder("zxing")(dim_frame) == []
    reading = DecoderChain().read(dim_frame)
    assert reading.texts == ["THP1:" + "A1B2C3" * 40]
    assert reading.step not in (None, "zxing")


def test_rescue_runs_only_where_a_code_was_located() -> None:
    # A blank frame has nothing located: no rescue, no regions.
    reading = DecoderChain().read(np.full((480, 640), 200, dtype=np.uint8))
    assert reading.texts == [] and reading.regions == [] and reading.step is None


def test_a_hint_region_is_tried_first_and_reported() -> None:
    frame = qr_frame("THP1:HINTED", module_px=4)
    first = DecoderChain().read(frame)
    assert first.step == "zxing" and first.regions
    again = DecoderChain().read(frame, first.regions)
    assert again.texts == ["THP1:HINTED"] and again.step == "hint"


def test_chinese_payload_is_exact_through_the_rescue_steps_too() -> None:
    # The rescue's zbar steps run in binary mode as well: no Shift-JIS guessing.
    from drivers.decoders import ZbarBinaryDecoder, upscale2

    frame = qr_frame(CHINESE, module_px=2)
    assert ZbarBinaryDecoder()(upscale2(frame)) == [CHINESE]
    assert DecoderChain(["zbar"]).decode(frame) == [CHINESE]


def test_opencv_prints_nothing_for_an_unreadable_file(tmp_path: Path,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ScannerError):
        read_image(str(tmp_path / "missing.png"))
    captured = capfd.readouterr()
    assert "WARN" not in captured.err and "findDecoder" not in captured.err


def test_hard_frames_are_read_without_a_wrong_text() -> None:
    # A slice of the generated hard set (bench/hardframes.py): one frame of each kind at
    # strength 2, each read exactly or not at all, and most of them read.
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from hardframes import hard_frames

    chain = DecoderChain()
    picked = [item for item in hard_frames()[::6] if item.strength == 2]
    assert len(picked) >= 8
    results = [chain.decode(item.frame) for item in picked]
    assert all(texts in ([], [item.text]) for texts, item in zip(results, picked, strict=True))
    read = sum(texts == [item.text] for texts, item in zip(results, picked, strict=True))
    assert read >= 0.7 * len(picked)


@pytest.mark.skipif(not DATASET.is_dir(), reason="shared dataset not present")
def test_public_set_no_wrong_text_and_at_least_the_old_rate() -> None:
    chain = DecoderChain()
    decoded = wrong = total = 0
    for expected_path in sorted(DATASET.glob("*/*.txt")):
        images = [p for p in expected_path.parent.glob(expected_path.stem + ".*")
                  if p.suffix != ".txt"]
        if not images:
            continue
        total += 1
        texts = [t.encode() for t in chain.decode(read_image(str(images[0])))]
        if expected_path.read_bytes() in texts:
            decoded += 1
        elif texts:
            wrong += 1
    assert wrong == 0
    assert decoded / total >= 0.956
