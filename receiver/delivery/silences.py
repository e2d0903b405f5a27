"""Silences as the CLI, the API and the page make, list and expire them: one set of decisions.

A silence is stored (``store/noise.py``) and applied by every dispatcher within a second
(``quiet.py``). Its matchers are checked here, all at once, before anything is stored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from receiver.errors import HTTPError
from receiver.events import isoformat
from receiver.ids import new_id
from receiver.rules.matchers import MatcherError, parse_matchers
from receiver.store import Store
from receiver.store.base import SilenceRow

MAX_COMMENT = 1000
MAX_MATCHERS = 20
# Bumped whenever this process adds or expires a silence: its dispatcher then reads silences
# again at once instead of within a second (other processes' changes: quiet.REFRESH_SECONDS).
_changes = [0]


def changes() -> int:
    return _changes[0]


class SilenceError(HTTPError):
    """A silence that cannot be made or expired; ``code`` names why (the API answers it as 4xx JSON)."""

    def __init__(self, message: str, code: str, status: int = 400) -> None:
        super().__init__(message, code=code, status=status)


@dataclass(frozen=True)
class Expired:
    row: SilenceRow
    already: bool  # it had ended or been expired before


def new_silence(
    matchers: Sequence[str], *, starts_at: float, ends_at: float, comment: str, created_by: str, now: float
) -> SilenceRow:
    """A checked silence, not stored yet; SilenceError says what is wrong."""
    texts = [m.strip() for m in matchers if isinstance(m, str) and m.strip()]
    if len(texts) > MAX_MATCHERS:
        raise SilenceError(f"at most {MAX_MATCHERS} matchers", "bad_matcher")
    try:
        parse_matchers(texts)
    except MatcherError as exc:
        raise SilenceError(str(exc), "bad_matcher") from None
    if not comment.strip():
        raise SilenceError("a silence needs a comment (why, for whoever sees it later)", "bad_silence")
    if len(comment) > MAX_COMMENT:
        raise SilenceError(f"the comment is longer than {MAX_COMMENT} characters", "bad_silence")
    if not (math.isfinite(starts_at) and math.isfinite(ends_at)) or ends_at <= starts_at or ends_at <= now:
        raise SilenceError("a silence must end after it starts and after now", "bad_silence")
    return SilenceRow(new_id("sil", now), texts, starts_at, ends_at, comment.strip(), created_by[:100] or "-", now)


async def add(store: Store, silence: SilenceRow) -> SilenceRow:
    await store.add_silence(silence)
    _changes[0] += 1
    return silence


async def expire(store: Store, silence_id: str, now: float) -> Expired:
    """Expire a silence now; SilenceError (404) when there is none with that id."""
    before = await store.get_silence(silence_id)
    if before is None:
        raise SilenceError(f"no silence {silence_id}", "silence_not_found", 404)
    if before.state(now) == "expired":
        return Expired(before, True)
    after = await store.expire_silence(silence_id, now)
    _changes[0] += 1
    return Expired(after or before, False)


def silence_dict(s: SilenceRow, now: float) -> dict[str, Any]:
    """A silence as the API and ``silence list --json`` show it."""
    return {
        "id": s.id,
        "matchers": list(s.matchers),
        "state": s.state(now),
        "starts_at": isoformat(s.starts_at),
        "ends_at": isoformat(s.ends_at),
        "comment": s.comment,
        "created_by": s.created_by,
        "created_at": isoformat(s.created_at),
        "expired_at": None if s.expired_at is None else isoformat(s.expired_at),
    }
