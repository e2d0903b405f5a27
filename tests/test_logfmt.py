"""Structured log lines: logfmt rendering, the JSON formatter, and what ``server.log_format`` selects."""

from __future__ import annotations

import json
import logging

import pytest

from receiver.logfmt import JsonFormatter, LogThrottle, handler, log_event, logfmt


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "delivery.failed"),
        ({"delivery": "dlv_1", "attempt": 2}, "delivery.failed delivery=dlv_1 attempt=2"),
        ({"reason": "HTTP 503: down"}, 'delivery.failed reason="HTTP 503: down"'),
        ({"reason": 'say "hi"\nthen=go'}, 'delivery.failed reason="say \\"hi\\"\\nthen=go"'),
        ({"status": None, "ok": True}, "delivery.failed status= ok=true"),
        ({"seconds": 1.5, "whole": 2.0}, "delivery.failed seconds=1.5 whole=2"),
        ({"sinks": ["a", "b"], "empty": []}, "delivery.failed sinks=a,b empty="),
    ],
)
def test_logfmt_renders_one_line(fields: dict[str, object], expected: str) -> None:
    assert logfmt("delivery.failed", fields) == expected


def _record(logger: str = "hookyard.delivery") -> logging.LogRecord:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger(logger)
    keep = Keep()
    log.addHandler(keep)
    log.setLevel(logging.DEBUG)
    try:
        log_event(log, logging.WARNING, "delivery.failed", delivery="dlv_1", attempt=3, reason="HTTP 503: a b")
    finally:
        log.removeHandler(keep)
    (record,) = records
    return record


def test_json_formatter_puts_fields_at_the_top_level() -> None:
    line = JsonFormatter().format(_record())
    got = json.loads(line)
    assert set(got) == {"ts", "level", "logger", "event", "delivery", "attempt", "reason"}
    assert (got["level"], got["logger"], got["event"]) == ("warning", "hookyard.delivery", "delivery.failed")
    assert (got["delivery"], got["attempt"], got["reason"]) == ("dlv_1", 3, "HTTP 503: a b")
    assert "\n" not in line


def test_json_formatter_keeps_plain_messages() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "Started %s", ("server",), None)
    got = json.loads(JsonFormatter().format(record))
    assert (got["message"], got["level"], got["logger"]) == ("Started server", "info", "uvicorn.error")


@pytest.mark.parametrize(
    ("log_format", "expected"),
    [
        ("text", "delivery.failed delivery=dlv_1 attempt=3 reason=\"HTTP 503: a b\""),
        ("json", '"event": "delivery.failed", "delivery": "dlv_1", "attempt": 3, "reason": "HTTP 503: a b"}'),
    ],
)
def test_handler_renders_the_configured_format(log_format: str, expected: str) -> None:
    line = handler(log_format).format(_record())
    assert line.endswith(expected)
    assert "WARNING hookyard.delivery: " in line if log_format == "text" else json.loads(line)


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        # (time, key) → None: held back; n: log it, n lines were held back since the last one
        ([(0, "a"), (1, "a"), (2, "a"), (10, "a"), (11, "a")], [0, None, None, 2, None]),
        ([(0, "a"), (1, "b"), (2, "a"), (3, "b")], [0, 0, None, None]),
        ([(0, "a"), (9.99, "a"), (10, "a"), (20, "a")], [0, None, 1, 0]),
        # bounded: a third key forgets the oldest, which then starts afresh
        ([(0, "a"), (0, "b"), (0, "c"), (1, "a"), (1, "c")], [0, 0, 0, 0, None]),
    ],
)
def test_log_throttle(calls: list[tuple[float, str]], expected: list[int | None]) -> None:
    now = [0.0]
    throttle = LogThrottle(10, max_keys=2, clock=lambda: now[0])
    got = []
    for t, key in calls:
        now[0] = t
        got.append(throttle.allow(key))
    assert got == expected
