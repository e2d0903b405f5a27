"""The lenient decoders: wrong input gives None, never an exception."""

from __future__ import annotations

import pytest

from receiver.verify._common import decode_b64, decode_hex


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [
        ("00ff", 2, b"\x00\xff"),
        ("00FF", 2, b"\x00\xff"),
        (" 00ff ", 2, b"\x00\xff"),
        ("00ff", 3, None),
        ("00fg", 2, None),
        ("", 0, b""),
        ("é0", 1, None),
    ],
)
def test_decode_hex(text: str, size: int, expected: bytes | None) -> None:
    assert decode_hex(text, size) == expected


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [
        ("AAE=", None, b"\x00\x01"),
        ("AAE", None, b"\x00\x01"),  # unpadded
        ("AAE==", None, b"\x00\x01"),  # over-padded
        ("AAE=", 2, b"\x00\x01"),
        ("AAE=", 3, None),
        ("A", None, None),  # impossible length
        ("!!!notb64", None, None),
        ("AA-_", None, None),  # url-safe alphabet is not standard base64
        ("AAé=", None, None),
    ],
)
def test_decode_b64(text: str, size: int | None, expected: bytes | None) -> None:
    assert decode_b64(text, size) == expected
