"""Page helpers: relative times, query rewriting."""

from __future__ import annotations

import pytest

from receiver.web.html import ago, with_query

NOW = 1770379200.0  # 2026-02-06T12:00:00Z


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("2026-02-06T12:00:00.000Z", "just now"),
        ("2026-02-06T11:59:56.000Z", "just now"),
        ("2026-02-06T11:59:15.000Z", "45 s ago"),
        ("2026-02-06T11:57:00.000Z", "3 min ago"),
        ("2026-02-06T09:00:00.000Z", "3 h ago"),
        ("2026-02-01T12:00:00.000Z", "5 d ago"),
        ("2026-02-06T12:02:00.000Z", "in 2 min"),  # a next attempt
        ("not a time", "not a time"),
    ],
)
def test_ago(iso: str, expected: str) -> None:
    assert ago(iso, NOW) == expected


@pytest.mark.parametrize(
    ("path", "drop", "params", "expected"),
    [
        ("/ui", (), {"refresh": "on"}, "/ui?refresh=on"),
        ("/ui?type=run.*&done=retried&id=x", ("done", "id"), {}, "/ui?type=run.%2A"),
        ("/ui?refresh=on&q=a", ("refresh",), {}, "/ui?q=a"),
        ("/ui/events/e?x=1#d", (), {"done": "retried"}, "/ui/events/e?x=1&done=retried#d"),
    ],
)
def test_with_query(path: str, drop: tuple[str, ...], params: dict[str, str], expected: str) -> None:
    assert with_query(path, drop, **params) == expected
