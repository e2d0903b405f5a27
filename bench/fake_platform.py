"""A fake Fusillade for ``poll_bench.py``, in its own process: answers ``GET /api/v1/tests/{id}``
at once from memory, counts the polls, and records when each run's state changed and when its
routed event arrived (``POST /routed``, the daemon's http sink).

Run: python bench/fake_platform.py --port N (uvicorn, one worker)."""

from __future__ import annotations

import argparse
import time

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TESTS: dict[str, str] = {}
CHANGED: dict[str, float] = {}
ROUTED: dict[str, float] = {}
POLLS = [0]


def _json(value: object, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


async def test(request: Request) -> Response:
    test_id = request.path_params["test_id"]
    POLLS[0] += 1
    status = TESTS.get(test_id)
    if status is None:
        return _json({"error": "not found", "code": "not_found"}, 404)
    return _json({"test_id": test_id, "name": "bench", "status": status, "p95_latency_ms": 40.0})


async def add(request: Request) -> Response:
    for test_id in orjson.loads(await request.body()):
        TESTS[test_id] = "running"
    return _json({"tests": len(TESTS)})


async def complete(request: Request) -> Response:
    now = time.time()
    for test_id in orjson.loads(await request.body()):
        TESTS[test_id] = "completed"
        CHANGED[test_id] = now
    return _json({"changed": len(CHANGED)})


async def routed(request: Request) -> Response:
    ROUTED.setdefault(orjson.loads(await request.body())["run"], time.time())
    return _json({"ok": True})


async def stats(request: Request) -> Response:
    return _json({"polls": POLLS[0], "changed": CHANGED, "routed": ROUTED})


async def healthz(request: Request) -> Response:
    return _json({"ok": True})


app = Starlette(
    routes=[
        Route("/api/v1/tests/{test_id}", test, methods=["GET"]),
        Route("/control/add", add, methods=["POST"]),
        Route("/control/complete", complete, methods=["POST"]),
        Route("/control/stats", stats, methods=["GET"]),
        Route("/routed", routed, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
