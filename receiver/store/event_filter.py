"""The WHERE clause of ``list_events``, written once for both backends.

The backends differ only in the parameter mark (``?`` / ``%s``) and in how a JSON
field of the envelope is read; both are passed in.
"""

from __future__ import annotations

from typing import Any

from receiver.store.base import NO_DELIVERIES, NOT_SUCCEEDED, DeliveryState, EventQuery

GLOB_CHARS = frozenset("*?")


def like_pattern(glob: str) -> str:
    """``run.*`` → ``run.%`` for ``LIKE … ESCAPE '\\'`` (LIKE's own wildcards are escaped)."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def event_where(query: EventQuery, mark: str, outcome_column: str) -> tuple[str, list[Any]]:
    """`` WHERE …`` (or "") and its arguments; ``outcome_column`` reads data.run.outcome."""
    where: list[str] = []
    args: list[Any] = []

    def add(clause: str, *values: Any) -> None:
        where.append(clause.replace("?", mark))
        args.extend(values)

    if query.source:
        add("source_id = ?", query.source)
    if query.type and GLOB_CHARS & set(query.type):
        add("type LIKE ? ESCAPE '\\'", like_pattern(query.type))
    elif query.type:
        add("type = ?", query.type)
    if query.since is not None:
        add("received_at >= ?", query.since)
    if query.before_id:
        add("id < ?", query.before_id)
    if query.outcome:
        add(f"{outcome_column} = ?", query.outcome)
    if query.sink or query.rule or query.delivery:
        # One delivery must meet all of sink, rule and state together (deliveries_event index).
        inner = ["d.event_id = events.id"]
        inner_args: list[Any] = []
        for column, value in (("d.sink_id", query.sink), ("d.rule", query.rule)):
            if value:
                inner.append(f"{column} = ?")
                inner_args.append(value)
        negate = query.delivery in (NO_DELIVERIES, NOT_SUCCEEDED)
        if query.delivery == NOT_SUCCEEDED:
            inner.append(f"d.state = '{DeliveryState.SUCCEEDED}'")
        elif query.delivery and not negate:
            inner.append("d.state = ?")
            inner_args.append(query.delivery)
        exists = f"EXISTS (SELECT 1 FROM deliveries d WHERE {' AND '.join(inner)})"
        add(f"NOT {exists}" if negate else exists, *inner_args)
    return (" WHERE " + " AND ".join(where)) if where else "", args
