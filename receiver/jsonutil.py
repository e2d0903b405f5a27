"""Fast JSON on the hot paths: orjson, with the standard library for what orjson refuses.

orjson rejects a few inputs the standard library accepts (NaN/Infinity literals,
integers beyond 64 bits); those fall back, so behaviour never depends on which parser
ran. Errors are always the standard library's, whose messages name line and column.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(obj: Any) -> str:
    try:
        return orjson.dumps(obj).decode()
    except (TypeError, orjson.JSONEncodeError):  # e.g. int > 64 bits, NaN
        return json.dumps(obj)


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # accepts NaN/huge ints; otherwise raises with its own message
