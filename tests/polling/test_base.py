"""What the pollers share (receiver/polling/base.py): when a status is a change, and its key."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.polling.base import status_step


@pytest.mark.parametrize(
    ("cursor", "status", "key", "next_cursor"),
    [
        ({}, "queued", "status:queued", {"status": "queued", "visits": {"queued": 1}}),
        ({}, None, None, {"status": None, "visits": {}}),  # no status in the answer: nothing changed
        ({"status": "queued", "visits": {"queued": 1}}, "queued", None, {"status": "queued", "visits": {"queued": 1}}),
        ({"status": "paused", "visits": {"running": 1, "paused": 1}}, "running", "status:running#2",
         {"status": "running", "visits": {"running": 2, "paused": 1}}),
        # A cursor from before visits were kept: the first return counts as a first visit.
        ({"status": "queued"}, "running", "status:running", {"status": "running", "visits": {"running": 1}}),
        ({"status": "running", "visits": {"running": 1}}, None, None, {"status": "running", "visits": {"running": 1}}),
    ],
)  # fmt: skip
def test_status_step(cursor: dict[str, Any], status: str | None, key: str | None, next_cursor: dict[str, Any]) -> None:
    assert status_step(cursor, status) == (key, next_cursor)
