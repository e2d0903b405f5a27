"""CPU cost per delivery of noise control's send-time checks when nothing is configured (no
silences, no ``repeat_interval`` or ``mute_time`` on the action): ``Quiet.held`` and
``Quiet.reservation`` on the example rules, in process, with a store that has no silences (read
at most once a second of the monotonic clock, as the dispatcher does).

Rerun: .venv/bin/python bench/quiet_overhead.py [--deliveries 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from receiver.config import load_config
from receiver.delivery.quiet import Quiet
from receiver.rules import Router, load_rules_for
from receiver.store.base import Claimed, DeliveryRow, DeliveryState, SilenceRow

ROOT = Path(__file__).resolve().parent.parent


class NoSilences:
    reads = 0

    async def live_silences(self, now: float) -> list[SilenceRow]:
        NoSilences.reads += 1
        return []


async def run(n: int) -> None:
    ruleset = load_rules_for(load_config(ROOT / "config.example.yaml"))
    rule = next(r for r in ruleset.rules if r.planned)
    row = DeliveryRow(
        "dlv", "evt", rule.name, 0, rule.planned[0].sink, None, {"title": "t", "body": "b"},
        DeliveryState.IN_PROGRESS, 0, 0, 0, 0, None, None, None, None, None, None, 0,
    )  # fmt: skip
    envelope = {"source": "fusillade", "type": "run.completed", "data": {"run": {"name": "API Load Test"}}}
    claimed = Claimed(row, envelope, 0, "fusillade")
    clock = [0.0]
    store: Any = NoSilences()
    quiet = Quiet(store, Router(ruleset), time.time, lambda: clock[0])
    started = time.perf_counter()
    for i in range(n):
        clock[0] = i * 1e-4  # 10,000 deliveries a second of monotonic time
        await quiet.held(claimed)
        quiet.reservation(claimed)
    took = time.perf_counter() - started
    print(f"{took / n * 1e6:.2f} µs per delivery ({n} deliveries, {NoSilences.reads} reads of the silences)")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--deliveries", type=int, default=200_000)
    asyncio.run(run(p.parse_args().deliveries))


if __name__ == "__main__":
    main()
