"""Noise control in the store: the notification log of repeat suppression, and silences.

Written once for both backends as step algorithms (``steps.py``); ``NoiseStore`` below runs
them on SQLite or PostgreSQL.

Repeat suppression across processes: :func:`reserve` reads the key's row under a lock (``FOR
UPDATE`` on PostgreSQL, the single writer on SQLite) and either finds the same content sent within
the interval (suppress), finds another delivery holding a live reservation for the same content
(wait until it ends), or takes the reservation itself (send). The reservation lasts as long as
the sender's lease; :func:`record` ends it in the transaction that finishes the delivery, and a
success becomes the key's last send. So two processes never both send the same content for one
key within the interval, unless a sender's lease runs out mid-send (then, as for any delivery,
the send may happen twice: at least once, never lost).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from receiver import jsonutil
from receiver.store.base import RepeatDecision, RepeatKey, RepeatRecord, SilenceRow
from receiver.store.steps import Statement, Steps, count, rows

_KEY = "rule = ? AND action_index = ? AND group_key = ?"
# The upsert locks an existing row at once (DO NOTHING would not): the pruner (store/retention_side.py)
# skips a locked row, and a row it deleted meanwhile is inserted anew, so the read below finds it.
_ADD_KEY = (
    "INSERT INTO notify_log (rule, action_index, group_key) VALUES (?, ?, ?) "
    "ON CONFLICT (rule, action_index, group_key) DO UPDATE SET rule = excluded.rule"
)
_READ = (
    "SELECT delivery_id, content_sha256, sent_at, pending_id, pending_sha256, pending_until "
    f"FROM notify_log WHERE {_KEY}"
)
_HOLD = f"UPDATE notify_log SET pending_id = ?, pending_sha256 = ?, pending_until = ? WHERE {_KEY}"
_SENT = (
    "UPDATE notify_log SET delivery_id = ?, content_sha256 = ?, sent_at = ?, "
    "pending_id = CASE WHEN pending_id = ? THEN NULL ELSE pending_id END, "
    f"pending_until = CASE WHEN pending_id = ? THEN NULL ELSE pending_until END WHERE {_KEY}"
)
_RELEASE = f"UPDATE notify_log SET pending_id = NULL, pending_until = NULL WHERE {_KEY} AND pending_id = ?"

_SILENCE_COLUMNS = "id, matchers, starts_at, ends_at, comment, created_by, created_at, expired_at"
_ADD_SILENCE = f"INSERT INTO silences ({_SILENCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_GET_SILENCE = f"SELECT {_SILENCE_COLUMNS} FROM silences WHERE id = ?"
# Live: not expired by hand and not ended (pending ones included: they start on their own).
_LIVE = f"SELECT {_SILENCE_COLUMNS} FROM silences WHERE expired_at IS NULL AND ends_at > ? ORDER BY starts_at, id"
_ALL = f"SELECT {_SILENCE_COLUMNS} FROM silences ORDER BY created_at DESC, id DESC LIMIT ?"
_EXPIRE = "UPDATE silences SET expired_at = ? WHERE id = ? AND expired_at IS NULL AND ends_at > ?"


def _key(key: RepeatKey) -> tuple[Any, ...]:
    return (key.rule, key.action_index, key.group_key)


def reserve(
    key: RepeatKey, content_sha256: str, delivery_id: str, now: float, interval: float, hold_until: float, lock: str
) -> Steps[RepeatDecision]:
    """Decide whether ``delivery_id`` may send now (see the module docstring); ``lock`` is the
    backend's row lock suffix."""
    yield Statement(_ADD_KEY, _key(key), rows=False)
    (row,) = rows((yield Statement(_READ + lock, _key(key), rows=True)))
    sent_id, sent_sha, sent_at, pending_id, pending_sha, pending_until = row
    if sent_id is not None and sent_id != delivery_id and sent_sha == content_sha256 and now < sent_at + interval:
        return RepeatDecision("suppress", delivery_id=sent_id, sent_at=sent_at)
    if pending_id not in (None, delivery_id) and pending_sha == content_sha256 and pending_until > now:
        return RepeatDecision("wait", delivery_id=pending_id, until=pending_until)
    count((yield Statement(_HOLD, (delivery_id, content_sha256, hold_until, *_key(key)), rows=False)))
    return RepeatDecision("send")


def record(r: RepeatRecord) -> Steps[None]:
    """End ``r.delivery_id``'s reservation; a send becomes the key's last send."""
    if r.sent:
        args = (r.delivery_id, r.content_sha256, r.at, r.delivery_id, r.delivery_id, *_key(r.key))
        yield Statement(_SENT, args, rows=False)
    else:
        yield Statement(_RELEASE, (*_key(r.key), r.delivery_id), rows=False)


def silence_args(s: SilenceRow) -> tuple[Any, ...]:
    return (
        s.id, jsonutil.dumps(s.matchers), s.starts_at, s.ends_at, s.comment, s.created_by, s.created_at,
        s.expired_at,
    )  # fmt: skip


def silence_row(r: Sequence[Any]) -> SilenceRow:
    matchers = jsonutil.loads(r[1]) if isinstance(r[1], str) else r[1]  # PostgreSQL decodes json columns
    return SilenceRow(r[0], list(matchers), r[2], r[3], r[4], r[5], r[6], r[7])


def add_silence(s: SilenceRow) -> Steps[None]:
    yield Statement(_ADD_SILENCE, silence_args(s), rows=False)


def get_silence(silence_id: str) -> Steps[SilenceRow | None]:
    found = rows((yield Statement(_GET_SILENCE, (silence_id,), rows=True)))
    return silence_row(found[0]) if found else None


def live_silences(now: float) -> Steps[list[SilenceRow]]:
    found = rows((yield Statement(_LIVE, (now,), rows=True)))
    return [silence_row(r) for r in found]


def list_silences(limit: int) -> Steps[list[SilenceRow]]:
    found = rows((yield Statement(_ALL, (limit,), rows=True)))
    return [silence_row(r) for r in found]


def expire_silence(silence_id: str, now: float) -> Steps[SilenceRow | None]:
    """Expire a live silence now; the row as it is afterwards (None when there is none)."""
    count((yield Statement(_EXPIRE, (now, silence_id, now), rows=False)))
    return (yield from get_silence(silence_id))
