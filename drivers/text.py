"""Scanned bytes to text, one rule for every scanner: UTF-8 (what phones and scanner modules
write), else GB18030 (Chinese legacy encodings). zbar's own guessing (Big5/Shift-JIS before
UTF-8) garbles Chinese, so the drivers hand raw bytes here instead."""

from __future__ import annotations

ENCODINGS = ("utf-8", "gb18030")


def decode_scanned(data: bytes) -> str | None:
    """The text of `data` in the first encoding of ENCODINGS that fits, or None."""
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None
