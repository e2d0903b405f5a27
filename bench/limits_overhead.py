"""CPU cost of the HTTP limits per request: uvicorn's httptools protocol with and without them,
and uvicorn's h11 protocol (the other choice: it bounds the head size itself, but parses in Python).

In process, no sockets: one keep-alive connection (a transport that only collects what is
written) is fed the same signed Fusillade request over and over, answered by a minimal
ASGI app; the two protocol classes alternate in rounds, so machine noise hits both alike.
End-to-end ingress with the real daemon is bench/ingest_bench.py.

Rerun: .venv/bin/python bench/limits_overhead.py [--requests 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import uvicorn
from common import fusillade_request
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from receiver.daemon.httplimits import Limits, protocol_class


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def write(self, data: Any) -> None:
        self.written += 1

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def seconds_per_request(cls: type[asyncio.Protocol], requests: int, request: bytes) -> float:
    config = uvicorn.Config(app, http=cls, ws="none", log_level="critical", timeout_keep_alive=30)
    config.load()
    proto: Any = cls(config=config, server_state=ServerState(), app_state={})  # type: ignore[call-arg]
    transport = Transport()
    proto.connection_made(transport)
    t0 = time.process_time()  # CPU time: other processes on a shared machine do not count
    for _ in range(requests):
        proto.data_received(request)
        while transport.written < 2:  # status line + body: the app answered
            await asyncio.sleep(0)
        transport.written = 0
    elapsed = time.process_time() - t0
    proto.connection_lost(None)
    return elapsed / requests


async def main(args: argparse.Namespace) -> None:
    limited = protocol_class(Limits(16384, 100, 10.0, 30.0, 1000))
    request = fusillade_request(0, b"whsec_bench", "127.0.0.1", "/hooks/fusillade", "overhead")
    contenders: dict[str, type[asyncio.Protocol]] = {
        "httptools": HttpToolsProtocol,
        "httptools + limits": limited,
        "h11": H11Protocol,
    }
    runs: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, cls in contenders.items():
            runs[name].append(await seconds_per_request(cls, args.requests, request))
    print(f"command: .venv/bin/python bench/limits_overhead.py --requests {args.requests} --rounds {args.rounds}")
    base = statistics.median(runs["httptools"])
    for name, values in runs.items():
        med = statistics.median(values)
        each = [round(v * 1e6, 1) for v in values]
        print(f"{name:20} median {med * 1e6:6.2f} µs/request  ({(med - base) * 1e6:+.2f} µs)  runs {each}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(p.parse_args()))
