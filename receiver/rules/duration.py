"""Durations as people write them (``30s``, ``5m``, ``12h``, ``7d``, ``1w``): one reading for
rule options (``repeat_interval``) and the command line (``--since``, ``--for``)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_HINT = "a duration like 30s, 5m, 12h or 7d"


def parse_duration(text: str) -> float:
    """Seconds; ValueError (saying what is expected) for anything else."""
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r} is not {DURATION_HINT}")
    return float(m.group(1)) * _UNITS[m.group(2)]
