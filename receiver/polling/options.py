"""What ``polling:`` and a source's ``poll:`` need of the pollers, checked where they are visible
(``config`` sits below them): the source's platform has a poller, and ``watch:`` one that can
list runs. Located like every config problem (``file:line: key.path: problem``)."""

from __future__ import annotations

from pydantic import ValidationError

from receiver.config import Config
from receiver.errors import Problem
from receiver.polling import POLLERS
from receiver.yamlfile import load, problems_from_pydantic


def problems(config: Config) -> list[Problem]:
    found: list[tuple[str, tuple[str, ...], str]] = []  # (source id, key under poll, problem)
    invalid: list[tuple[str, ValidationError]] = []  # (source id, its watch: options' errors)
    for source in config.sources.values():
        if source.poll is None:
            continue
        spec = POLLERS.get(source.kind)
        if spec is None:
            known = ", ".join(sorted(POLLERS)) or "none"
            found.append((source.id, (), f"kind {source.kind!r} has no poller (pollable: {known})"))
        elif source.poll.watch is not None and not spec.can_discover:
            found.append((source.id, ("watch",), f"{source.kind} documents no list of runs to watch"))
        elif source.poll.watch is not None and spec.watch_options is not None:
            try:
                spec.watch_options.model_validate(source.poll.watch)
            except ValidationError as exc:
                invalid.append((source.id, exc))
    if not found and not invalid:
        return []
    doc = load(config.path)  # only for the lines; values were checked by load_config
    positions = {s.get("id"): i for i, s in enumerate(doc.data.get("sources") or []) if isinstance(s, dict)}
    located = [doc.problem(("sources", positions.get(sid, 0), "poll", *key), why) for sid, key, why in found]
    for sid, errors in invalid:
        located += problems_from_pydantic(doc, errors, ("sources", positions.get(sid, 0), "poll", "watch"))
    return located
