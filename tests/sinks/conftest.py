from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

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
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # trust_env off: a proxy from the environment must not carry loopback test traffic away.
    async with httpx.AsyncClient(trust_env=False) as c:
        yield c
