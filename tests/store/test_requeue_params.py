"""``requeue(..., params=)``: a retry that re-rendered a dead delivery's action stores the new
parameters with the requeue, in one statement, on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.store import Store
from receiver.store.base import DeliveryState
from tests.store.conftest import Backend
from tests.store.test_contract import delivery, event


@pytest.mark.parametrize(
    ("stored", "given", "expected"),
    [
        (None, {"title": "t", "body": "b"}, {"title": "t", "body": "b"}),  # died before rendering
        ({"text": "old"}, None, {"text": "old"}),  # a plain retry keeps what was rendered
        ({"text": "old"}, {"text": "new"}, {"text": "new"}),
    ],
)
def test_requeue_with_params(backend: Backend, stored: Any, given: Any, expected: Any) -> None:
    async def body(store: Store) -> None:
        await store.save_event(
            event("evt_1"), [delivery("dlv_1", params=stored, state=DeliveryState.DEAD, last_error="x")]
        )
        assert await store.requeue("dlv_1", 5000.0, params=given) is True
        row = await store.get_delivery("dlv_1")
        assert row is not None and (row.state, row.params) == (DeliveryState.QUEUED, expected)
        # Not dead any more: a second requeue changes nothing, parameters included.
        assert await store.requeue("dlv_1", 6000.0, params={"text": "other"}) is False
        again = await store.get_delivery("dlv_1")
        assert again is not None and again.params == expected

    backend.run(body)
