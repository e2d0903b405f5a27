"""Shared test helpers: run a payload file through an adapter and check the envelope."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from receiver.events import Normalized, build_envelope
from receiver.sources import ADAPTERS
from receiver.sources.base import safe_normalize
from receiver.verify.base import RawRequest

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = ROOT / "tests" / "testdata" / "payloads"
SCHEMA_PATH = ROOT / "receiver" / "schema" / "event.schema.json"
RECEIVED_AT = 1_767_323_045.0  # 2026-01-02T03:04:05Z
_ABSENT = object()
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@cache
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def adapter(kind: str, options: dict[str, Any] | None = None) -> Any:
    spec = ADAPTERS[kind]
    return spec.create(None if options is None else spec.options.model_validate(options))


def envelope_for(
    kind: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[Normalized, dict[str, Any]]:
    """Normalize ``body``, build the envelope and validate it against the published schema."""
    req = RawRequest(body=body, headers={k.lower(): v for k, v in (headers or {}).items()})
    n = safe_normalize(adapter(kind, options), req)
    env = build_envelope(n, event_id="evt_TEST", source_id=f"{kind}-src", received_at=RECEIVED_AT)
    env = json.loads(json.dumps(env))  # what the store and sinks see
    errors = sorted(validator().iter_errors(env), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    # FormatChecker skips date-time without optional packages, so check RFC 3339 here.
    for value in _times(env):
        assert RFC3339.match(value), f"not RFC 3339: {value!r}"
    return n, env


def _times(env: dict[str, Any]) -> list[str]:
    found = [env["time"], env["received_at"]]
    for section in ("run",):
        for key in ("started_at", "finished_at"):
            value = dig(env, f"data.{section}.{key}")
            if isinstance(value, str):
                found.append(value)
    return found


def payload(platform: str, name: str) -> bytes:
    return (PAYLOADS / platform / name).read_bytes()


def dig(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return _ABSENT
        obj = obj[part]
    return obj


def assert_fields(env: dict[str, Any], expected: dict[str, Any]) -> None:
    """Each dotted path in ``expected`` has that value; ``ABSENT`` means the key is not there."""
    for path, want in expected.items():
        got = dig(env, path)
        if want is ABSENT:
            assert got is _ABSENT, f"{path}: expected absent, got {got!r}"
        else:
            assert got == want, f"{path}: expected {want!r}, got {got!r}"


ABSENT = _ABSENT
