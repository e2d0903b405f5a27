"""Which stored event a new one redelivers: one algorithm for both backends.

An event claims each of its redelivery keys (and, with a window, ``body:<sha256>``) in
``event_keys``, whose unique key is the arbiter: of two saves of one redelivery, however
they interleave, exactly one claims the key. On SQLite the single writer orders them; on
PostgreSQL the second INSERT waits for the first transaction and then sees its row (READ
COMMITTED reads a fresh snapshot per statement). Keys are claimed in sorted order, so two
saves never wait on each other's keys crosswise (no deadlock).

The algorithm is written without I/O: :func:`original` yields statements (``?`` marks) and
is sent each one's answer; ``steps.py`` drives it on either backend's connection.
"""

from __future__ import annotations

from receiver.store import sql, steps
from receiver.store.base import NewEvent
from receiver.store.steps import Statement, count, rows

_ROUNDS = 4
Steps = steps.Steps[str | None]


def _keys(ev: NewEvent) -> tuple[str | None, list[str]]:
    body_key = f"body:{ev.body_sha256}" if ev.dedupe_window > 0 else None
    return body_key, sorted({*ev.dedupe_keys, *([body_key] if body_key else [])})


def release(ev: NewEvent) -> steps.Steps[None]:
    """Give back the keys ``ev`` claimed: it turned out to repeat its run's state and is not stored
    (``runs/track.py``, ``Track.repeats``); a later event may claim them."""
    _, keys = _keys(ev)
    if keys:
        yield Statement(sql.release_keys(len(keys)), (ev.source_id, *keys, ev.id), rows=False)


def original(ev: NewEvent) -> Steps:
    """The id of the event ``ev`` redelivers (None: ``ev`` is new and holds its keys now)."""
    body_key, keys = _keys(ev)
    if not keys:
        return None
    args = [x for key in keys for x in (ev.source_id, key, ev.id)]
    claimed = count((yield Statement(sql.claim_keys(len(keys)), args, rows=False)))
    # Common path (all new): that one statement was the whole cost. Another round only when a
    # concurrent save moved a stale body key first (it then holds it: the next round finds it);
    # bounded all the same: past it the event is stored as new, as without a window.
    for _round in range(_ROUNDS):
        if claimed == len(keys):
            break
        found: str | None = None
        for key in ev.dedupe_keys:  # in order: the first known key names the original
            owners = rows((yield Statement(sql.KEY_OWNER, (ev.source_id, key, ev.id), rows=True)))
            if owners:
                found = str(owners[0][0])
                break
        stale: str | None = None
        if found is None and body_key is not None:
            owners = rows((yield Statement(sql.BODY_OWNER, (ev.source_id, body_key, ev.id), rows=True)))
            if owners:
                holder, received_at = owners[0]
                if received_at is not None and received_at >= ev.received_at - ev.dedupe_window:
                    found = str(holder)
                else:
                    stale = str(holder)
        if found is not None:  # give back the keys this redelivery claimed
            yield Statement(sql.release_keys(len(keys)), (ev.source_id, *keys, ev.id), rows=False)
            return found
        if stale is None:  # the holder went away meanwhile (pruned): claim what is still missing
            claimed += count((yield Statement(sql.claim_keys(len(keys)), args, rows=False)))
            continue
        # Only the body key was taken, by an event older than the window: it moves on.
        claimed += count((yield Statement(sql.MOVE_KEY, (ev.id, ev.source_id, body_key, stale), rows=False)))
    return None
