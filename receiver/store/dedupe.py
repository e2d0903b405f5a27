"""Which stored event a new one redelivers: one algorithm for both backends.

An event claims each of its redelivery keys (and, with a window, ``body:<sha256>``) in
``event_keys``, whose unique key is the arbiter: of two saves of one redelivery, however
they interleave, exactly one claims the key. On SQLite the single writer orders them; on
PostgreSQL the second INSERT waits for the first transaction and then sees its row (READ
COMMITTED reads a fresh snapshot per statement). Keys are claimed in sorted order, so two
saves never wait on each other's keys crosswise (no deadlock).

The algorithm is written without I/O: :func:`original` yields statements (``?`` marks) and
is sent each one's answer; each backend drives it on its connection (``sqlite.py``,
``postgres.py``).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from receiver.store import sql
from receiver.store.base import NewEvent


@dataclass(frozen=True)
class Statement:
    text: str
    args: Sequence[Any]
    rows: bool  # answer with the rows (else with the row count)


_ROUNDS = 4
Answer = list[tuple[Any, ...]] | int
Steps = Generator[Statement, Answer, str | None]


def _rows(answer: Answer) -> list[tuple[Any, ...]]:
    assert isinstance(answer, list)
    return answer


def _count(answer: Answer) -> int:
    assert isinstance(answer, int)
    return answer


def original(ev: NewEvent) -> Steps:
    """The id of the event ``ev`` redelivers (None: ``ev`` is new and holds its keys now)."""
    body_key = f"body:{ev.body_sha256}" if ev.dedupe_window > 0 else None
    keys = sorted({*ev.dedupe_keys, *([body_key] if body_key else [])})
    if not keys:
        return None
    args = [x for key in keys for x in (ev.source_id, key, ev.id)]
    claimed = _count((yield Statement(sql.claim_keys(len(keys)), args, rows=False)))
    # Common path (all new): that one statement was the whole cost. Another round only when a
    # concurrent save moved a stale body key first (it then holds it: the next round finds it);
    # bounded all the same: past it the event is stored as new, as without a window.
    for _round in range(_ROUNDS):
        if claimed == len(keys):
            break
        found: str | None = None
        for key in ev.dedupe_keys:  # in order: the first known key names the original
            rows = _rows((yield Statement(sql.KEY_OWNER, (ev.source_id, key, ev.id), rows=True)))
            if rows:
                found = str(rows[0][0])
                break
        stale: str | None = None
        if found is None and body_key is not None:
            rows = _rows((yield Statement(sql.BODY_OWNER, (ev.source_id, body_key, ev.id), rows=True)))
            if rows:
                holder, received_at = rows[0]
                if received_at is not None and received_at >= ev.received_at - ev.dedupe_window:
                    found = str(holder)
                else:
                    stale = str(holder)
        if found is not None:  # give back the keys this redelivery claimed
            yield Statement(sql.release_keys(len(keys)), (ev.source_id, *keys, ev.id), rows=False)
            return found
        if stale is None:  # the holder went away meanwhile (pruned): claim what is still missing
            claimed += _count((yield Statement(sql.claim_keys(len(keys)), args, rows=False)))
            continue
        # Only the body key was taken, by an event older than the window: it moves on.
        claimed += _count((yield Statement(sql.MOVE_KEY, (ev.id, ev.source_id, body_key, stale), rows=False)))
    return None

