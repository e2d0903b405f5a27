"""A successful call that started a run on a platform records that run (issue #13, "the trigger").

The sink reads which run its answer names (``receiver/sinks/track.py``); this module adds what
the triggering event knows — its commit (``data.git``), its correlation id — and hands the
dispatcher a :class:`~receiver.store.runs.TriggeredRun`, which the store records in the same
transaction as the success (like ``emit:``): the row exists as soon as the success does, and
later events of the run (webhooks) find it and inherit its commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from receiver.errors import DeliveryError
from receiver.runs.track import _int64 as int64  # its one definition: a pr the columns can hold
from receiver.sinks.base import SendResult
from receiver.sinks.track import TrackFailed
from receiver.store.base import Claimed
from receiver.store.runs import TriggeredRun

log = logging.getLogger("hookyard.delivery")


def started_run(
    sink: Any, c: Claimed, action: Any, result: SendResult, now: float, polled: frozenset[str] = frozenset()
) -> TriggeredRun | None:
    """The run delivery ``c`` (sent as ``action``, the sink's validated params) started, from its
    sink's answer ``result``; None when it started none or the answer names no run (logged: the
    success stands, the run is not tracked). A run on a platform in ``polled`` (it has a poller)
    is polled through the same sink from now on (issue #14)."""
    read = getattr(sink, "started_run", None)
    if read is None:
        return None
    d = c.delivery
    try:
        started = read(action, result.body, c.envelope)
    except (TrackFailed, DeliveryError) as exc:
        log.warning("delivery %s: sink %s: %s; the run it started is not tracked", d.id, d.sink_id, exc)
        return None
    except Exception:  # a bug here must not undo the success: the call was made, and is not made again
        log.exception("delivery %s: sink %s: reading the run it started failed; the run is not tracked", d.id, sink.id)
        return None
    if started is None:
        return None
    git = _git(c.envelope)
    return TriggeredRun(
        source_id=started.source_id, run_id=started.run_id, platform=started.platform,
        repo=_text(git.get("repo")), sha=_text(git.get("sha")), branch=_text(git.get("branch")),
        pr=int64(git.get("pr")), correlation_id=c.envelope.get("correlation_id") or c.envelope.get("id"),
        trigger_event_id=d.event_id, trigger_delivery_id=d.id, now=now,
        poll_sink=d.sink_id if started.platform in polled and hasattr(sink, "get") else None,
    )  # fmt: skip


def _git(envelope: Mapping[str, Any]) -> Mapping[str, Any]:
    data = envelope.get("data")
    git = data.get("git") if isinstance(data, Mapping) else None
    return git if isinstance(git, Mapping) else {}


def _text(value: Any) -> str | None:
    """A git field as the run's text column holds it (empty: unknown)."""
    return str(value) if value is not None and value != "" else None
