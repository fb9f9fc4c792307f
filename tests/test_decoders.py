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


@pytest.mark.parametrize("name", ["zxing", "zbar", "zxing-smooth"])
def test_every_decoder_reads_chinese_utf8_exactly(name: str) -> None:
    assert make_decoder(name)(qr_frame(CHINESE)) == [CHINESE]


@pytest.mark.parametrize("name", ["zxing", "zbar", "zxing-smooth"])
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
