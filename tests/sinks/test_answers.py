"""How a destination's answer reads (receiver.sinks.answers): success, retryable, Retry-After."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from receiver.sinks.answers import classify, is_success, parse_retry_after, repeats

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("status", "success", "retryable"),
    [
        (200, True, False),
        (201, True, False),
        (204, True, False),
        (301, False, False),
        (400, False, False),
        (401, False, False),
        (403, False, False),
        (404, False, False),
        (408, False, True),
        (409, False, True),
        (410, False, False),
        (422, False, False),
        (425, False, True),
        (429, False, True),
        (500, False, True),
        (502, False, True),
        (503, False, True),
        (599, False, True),
    ],
)
def test_classify(status: int, success: bool, retryable: bool) -> None:
    assert is_success(status) is success
    assert classify(status) is retryable


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("  7 ", 7.0),
        ("0", 1.0),  # clamped up: never retry in a tight loop
        ("0.2", 1.0),
        ("99999", 3600.0),  # clamped down
        (formatdate(NOW + 30, usegmt=True), 30.0),
        (formatdate(NOW - 30, usegmt=True), 1.0),  # a date in the past means "now", clamped
        (formatdate(NOW + 86400, usegmt=True), 3600.0),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("No message body or attachment was specified.", True),
        ("no message content specified to deliver", True),
        ("A Connection error occurred sending JSON notification to 127.0.0.1.", False),
        ("SMTP server refused the connection", False),
        ("timed out after 10s", False),
    ],
)
def test_repeats(detail: str, expected: bool) -> None:
    assert repeats(detail) is expected
