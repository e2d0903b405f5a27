"""A fake Fusillade API on loopback (a ``RecordingServer``): ``GET /api/v1/tests/{id}`` answers
each test's current state, which the test changes over time; ``POST /api/v1/templates/{id}/run``
starts a test. ``fail`` scripts answers to give before the next real ones (429 with
``Retry-After``, 500, a hang longer than the sink's timeout)."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.servers import Received, RecordingServer, Reply

API_KEY = "fus_poll_key_5b1c9e"


class FakeFusillade:
    def __init__(self, api_key: str = API_KEY) -> None:
        self.tests: dict[str, dict[str, Any]] = {}
        self.failures: list[Reply] = []
        self.started: list[str] = []
        self.delay = 0.0  # seconds before each test's answer (a slow or hung platform)
        self.keys = {api_key}  # keys it accepts (several daemons, one key each: who asked)
        # (test id, arrival on the monotonic clock, the key that asked) per GET of a test
        self.arrivals: list[tuple[str, float, str]] = []
        self._lock = threading.Lock()
        self.server = RecordingServer(self._answer)

    @property
    def url(self) -> str:
        return self.server.url

    def set(self, test_id: str, status: str, **fields: Any) -> None:
        with self._lock:
            self.tests[test_id] = {"test_id": test_id, "name": "API smoke", "status": status, **fields}

    def fail(self, *replies: Reply) -> None:
        with self._lock:
            self.failures.extend(replies)

    def gets(self, test_id: str) -> int:
        return sum(1 for r in self.server.received if r.method == "GET" and r.path.endswith(f"/{test_id}"))

    def _answer(self, got: Received) -> Reply:
        auth = got.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.keys:
            # Echoes what it was sent, as careless APIs do: the key must not reach Hookyard's pages.
            return Reply(401, {"error": f"invalid token {got.headers.get('authorization')}", "code": "invalid_auth"})
        with self._lock:
            if self.failures:
                return self.failures.pop(0)
            parts = got.path.strip("/").split("/")
            if got.method == "POST" and parts[:3] == ["api", "v1", "templates"] and parts[-1] == "run":
                test_id = f"t-{len(self.started) + 1}"
                self.started.append(test_id)
                self.tests[test_id] = {"test_id": test_id, "name": "API smoke", "status": "provisioning"}
                return Reply(201, {"test_id": test_id, "status": "provisioning"})
            test = self.tests.get(parts[-1]) if parts[:3] == ["api", "v1", "tests"] else None
            if test is not None:
                self.arrivals.append((parts[-1], time.monotonic(), auth.removeprefix("Bearer ")))
        if test is None:
            return Reply(404, {"error": "Resource does not exist", "code": "not_found"})
        return Reply(200, dict(test), delay=self.delay)

    def __enter__(self) -> FakeFusillade:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
