"""The claim loop the dispatcher and the poll engine share (receiver/delivery/claims.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence

import pytest

from receiver.delivery.claims import ClaimLoop


class Rows(ClaimLoop[tuple[str, int]]):
    """Rows are (key, n); ``due`` is what the next claim hands out; work waits for ``release``."""

    def __init__(self, capacity: int = 4) -> None:
        super().__init__()
        self.cap = capacity
        self.due: list[tuple[str, int]] = []
        self.handled: list[tuple[str, int]] = []
        self.failed: list[str] = []
        self.release = asyncio.Event()
        self.limits: list[int] = []

    def capacity(self) -> int:
        return self.cap

    def idle_seconds(self) -> float:
        return 0.01

    async def claim_rows(self, limit: int) -> Sequence[tuple[str, int]]:
        self.limits.append(limit)
        rows, self.due = self.due[:limit], self.due[limit:]
        return rows

    def row_key(self, row: tuple[str, int]) -> Hashable:
        return row[0]

    async def handle(self, row: tuple[str, int]) -> None:
        await self.release.wait()
        if row[1] < 0:
            raise RuntimeError(f"row {row[0]} broke")
        self.handled.append(row)

    def task_failed(self, error: BaseException) -> None:
        self.failed.append(str(error))


def test_a_row_claimed_again_while_worked_on_is_not_started_twice() -> None:
    async def scenario() -> Rows:
        loop = Rows()
        loop.due = [("a", 1)]
        first = asyncio.create_task(loop.claim_and_wait(4))
        await asyncio.sleep(0)  # ("a", 1) is being worked on
        loop.due = [("a", 2), ("b", 1)]  # its lease ran out: claimed again, beside a new row
        second = asyncio.create_task(loop.claim_and_wait(4))
        await asyncio.sleep(0)
        loop.release.set()
        assert await first == 1 and await second == 2  # claimed counts what the store handed out
        return loop

    loop = asyncio.run(scenario())
    assert sorted(loop.handled) == [("a", 1), ("b", 1)]


def test_a_failing_row_is_reported_and_the_loop_goes_on() -> None:
    async def scenario() -> Rows:
        loop = Rows()
        loop.release.set()
        loop.due = [("x", -1), ("y", 1)]
        await loop.claim_and_wait(4)
        return loop

    loop = asyncio.run(scenario())
    assert (loop.handled, loop.failed) == ([("y", 1)], ["row x broke"])


def test_the_running_loop_claims_at_most_its_free_capacity_and_stop_waits_for_work_under_way() -> None:
    async def scenario() -> Rows:
        loop = Rows(capacity=2)
        loop.due = [("a", 1), ("b", 1), ("c", 1)]
        loop.start_loop()
        assert loop.running
        await asyncio.sleep(0.05)  # two in flight, the third waits for a free slot
        assert loop.limits[0] == 2 and loop.handled == [] and loop.due == [("c", 1)]
        loop.release.set()
        await asyncio.sleep(0.05)
        await loop.stop(grace=1)
        assert not loop.running
        return loop

    loop = asyncio.run(scenario())
    assert sorted(loop.handled) == [("a", 1), ("b", 1), ("c", 1)]


def test_the_lease_is_renewed_while_worked_on_until_it_is_lost(caplog: pytest.LogCaptureFixture) -> None:
    answers = iter([True, OSError("store busy"), False, True])
    renewals: list[object] = []

    async def renew() -> bool:
        answer = next(answers)
        renewals.append(answer)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def scenario() -> None:
        loop = Rows()
        async with loop.leased("row r", renew, lease_seconds=0.03):
            await asyncio.sleep(0.1)  # ~10 beats' time: renewing stops once the lease is lost

    asyncio.run(scenario())
    assert [type(r).__name__ if isinstance(r, Exception) else r for r in renewals] == [True, "OSError", False]
    assert "row r: renewing its lease failed: OSError" in caplog.text
    assert "row r: lease lost while it was being worked on" in caplog.text
