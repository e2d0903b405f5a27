from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from receiver.sinks.client import HttpClient
from tests.servers import RecordingServer, SmtpSink


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as srv:
        yield srv


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    # The daemon's own client: proxies from the environment are ignored, no cookies kept.
    c = HttpClient()
    try:
        yield c
    finally:
        await c.aclose()
