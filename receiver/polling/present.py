"""A watched run's poll state as the API, the run page and ``hookyard runs show`` show it: one
reading, one summary line ("watching, next poll in 12 s, last answer 200"; "gave up after 6 h";
the reason of a poll that keeps failing). Errors were redacted by the sink when recorded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from receiver.events import isoformat
from receiver.store.polls import PollHistoryRow, PollRow, PollState

HISTORY_SHOWN = 20


class PollReads(Protocol):
    async def get_poll(self, source_id: str, run_id: str) -> PollRow | None: ...

    async def poll_history(self, source_id: str, run_id: str, limit: int) -> list[PollHistoryRow]: ...


def summary(row: PollRow, now: float) -> str:
    if row.state == PollState.DONE:
        return f"done after {row.polls} polls: the run reached a final status"
    if row.state == PollState.GAVE_UP:
        return row.last_error or "gave up"
    parts = ["watching"]
    if row.lease_owner is not None and (row.lease_until or 0) > now:
        parts.append("polling now")
    else:
        parts.append(f"next poll in {max(0, round(row.due_at - now))} s")
    if row.last_status is not None:
        parts.append(f"last answer {row.last_status}")
    if row.failures and row.last_error:
        parts.append(f"{row.failures} failed in a row: {row.last_error}")
    return ", ".join(parts)


def history_dict(h: PollHistoryRow) -> dict[str, Any]:
    return {"number": h.number, "at": isoformat(h.at), "status": h.status, "error_class": h.error_class,
            "events": h.observations, "reason": h.reason}  # fmt: skip


def poll_dict(row: PollRow, history: Sequence[PollHistoryRow], now: float) -> dict[str, Any]:
    """The poll state of a run; ``history`` newest first."""
    return {
        "state": row.state,
        "summary": summary(row, now),
        "platform": row.platform,
        "sink": row.sink_id,
        "started_at": isoformat(row.started_at),
        "next_poll_at": isoformat(row.due_at) if row.state == PollState.WATCHING else None,
        "interval_seconds": row.interval_seconds,
        "polls": row.polls,
        "failures": row.failures,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "last_polled_at": isoformat(row.last_polled_at) if row.last_polled_at is not None else None,
        "history": [history_dict(h) for h in history],
    }


async def run_poll(store: PollReads, source_id: str, run_id: str, now: float) -> dict[str, Any] | None:
    """The poll state of the run (source, platform run id); None when it was never polled."""
    row = await store.get_poll(source_id, run_id)
    if row is None:
        return None
    return poll_dict(row, await store.poll_history(source_id, run_id, HISTORY_SHOWN), now)
