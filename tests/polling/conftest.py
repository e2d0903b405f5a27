from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from receiver.sinks.client import HttpClient


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    c = HttpClient()
    try:
        yield c
    finally:
        await c.aclose()
