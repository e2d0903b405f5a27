"""Hookyard ids (events, deliveries, runs): time-ordered, unique, made without a syscall."""

from __future__ import annotations

import random
import time

# Ids need uniqueness, not secrecy: a seeded PRNG (from os.urandom) is enough and far
# cheaper than a syscall per id on the hot path.
_random = random.Random()


def new_id(prefix: str = "evt", now: float | None = None) -> str:
    """A time-ordered unique id: 48-bit milliseconds + 80 random bits as 32 hex digits,
    so ids sort by the time they were made."""
    ms = int((time.time() if now is None else now) * 1000)
    return f"{prefix}_{ms:012x}{_random.getrandbits(80):020x}"
