"""Fake testing platforms for the pollers: real HTTP servers (``tests/servers.py``) whose runs
change state when the test says so.

A :class:`PlatformFake` is a :class:`~tests.servers.RecordingServer` with a router: routes
(regex on the path → handler) read the :class:`ScriptedRun` of the id in the path, and every
request must carry the platform's auth header (401 JSON otherwise, as the platforms answer).
A run is a list of :class:`Step` s (the platform's own run object and the bugs found so far);
``advance`` moves it on, so a test polls, advances, polls again and sees exactly one change
(or ``add(…, every=n)``: it moves on by itself after every n answers of the run).
Faults are one-shot answers queued ahead of the routes: ``fault(Reply(429, …))``,
``fault(Reply(500))``, ``hang(seconds)``. A new platform is one more function like
:func:`nunu` below: its routes and auth header.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.servers import Received, RecordingServer, Reply


@dataclass
class Step:
    """One state of a run: ``run`` is what the platform answers for it, ``bugs`` what it found so far."""

    run: dict[str, Any]
    bugs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ScriptedRun:
    """A run's steps; with ``every`` it also moves on by itself after every ``every`` answers of its
    own endpoint (for a daemon polling it in another process, where the test cannot step it)."""

    steps: list[Step]
    at: int = 0
    every: int | None = None
    answers: int = 0

    @property
    def current(self) -> Step:
        return self.steps[self.at]

    def advance(self, steps: int = 1) -> None:
        self.at = min(self.at + steps, len(self.steps) - 1)

    def answered(self) -> Step:
        """The step to answer with now (moving on afterwards when ``every`` answers were given)."""
        step = self.current
        self.answers += 1
        if self.every is not None and self.answers % self.every == 0:
            self.advance()
        return step


Handler = Callable[["PlatformFake", re.Match[str], Received], Reply]


class PlatformFake(RecordingServer):
    """A platform API on loopback: ``routes`` answer from ``runs``; ``auth`` is (header, value)."""

    def __init__(self, auth: tuple[str, str], routes: Sequence[tuple[str, Handler]]) -> None:
        super().__init__(responder=self._respond)
        self.auth_header, self.auth_value = auth[0].lower(), auth[1]
        self.routes = [(re.compile(pattern), handler) for pattern, handler in routes]
        self.runs: dict[str, ScriptedRun] = {}
        self.faults: list[Reply] = []
        self._state = threading.Lock()  # the server thread reads what the test thread changes

    def add(self, run_id: str, *steps: Step, every: int | None = None) -> ScriptedRun:
        with self._state:
            run = self.runs[run_id] = ScriptedRun(list(steps), every=every)
        return run

    def advance(self, run_id: str, steps: int = 1) -> None:
        with self._state:
            self.runs[run_id].advance(steps)

    def fault(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, one each, before the routes answer again."""
        with self._state:
            self.faults.extend(replies)

    def hang(self, seconds: float) -> None:
        """The next request gets no answer for ``seconds`` (longer than the client's timeout)."""
        self.fault(Reply(200, {}, delay=seconds))

    def requests(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path.split("?")[0] == path]

    def _respond(self, got: Received) -> Reply:
        with self._state:
            if self.faults:
                return self.faults.pop(0)
            if got.headers.get(self.auth_header) != self.auth_value:
                return Reply(401, {"error": "Unauthorized - Missing or invalid API key"})
            path = got.path.split("?")[0]
            for pattern, handler in self.routes:
                match = pattern.fullmatch(path)
                if match is not None and got.method == "GET":
                    return handler(self, match, got)
            return Reply(404, {"error": "Not Found"})

    def __enter__(self) -> PlatformFake:
        self.start()
        return self

    def run(self, run_id: str) -> ScriptedRun | None:
        return self.runs.get(run_id)


def _not_found(run_id: str) -> Reply:
    return Reply(404, {"error": f"run {run_id} not found"})


# --- nunu.ai (nunu-api.txt): X-Api-Key; GET /runs, /runs/{runId}, /runs/{runId}/bugs -----------


def _nunu_run(fake: PlatformFake, m: re.Match[str], got: Received) -> Reply:
    run = fake.run(m["id"])
    return Reply(200, run.answered().run) if run else _not_found(m["id"])


def _nunu_bugs(fake: PlatformFake, m: re.Match[str], got: Received) -> Reply:
    run = fake.run(m["id"])
    return Reply(200, {"bugs": run.current.bugs}) if run else _not_found(m["id"])


def _nunu_list(fake: PlatformFake, m: re.Match[str], got: Received) -> Reply:
    wanted = set(filter(None, got.query.get("status", "").split(",")))
    runs = [r.current.run for r in fake.runs.values() if not wanted or r.current.run.get("status") in wanted]
    return Reply(200, {"runs": runs})


def nunu(key: str) -> PlatformFake:
    return PlatformFake(
        ("X-Api-Key", key),
        [(r"/runs", _nunu_list), (r"/runs/(?P<id>[^/]+)", _nunu_run), (r"/runs/(?P<id>[^/]+)/bugs", _nunu_bugs)],
    )


class StartingNunu(PlatformFake):
    """The nunu fake that also answers ``POST /runs`` (a ``start_run``): ``script(body)`` names the
    run's steps (the first one's ``runId`` is the id answered; None: 400), which then move on by
    themselves after every ``every`` polls of the run."""

    def __init__(self, key: str, script: Callable[[dict[str, Any]], list[Step] | None], every: int = 1) -> None:
        plain = nunu(key)
        super().__init__(auth=(plain.auth_header, plain.auth_value), routes=[])
        self.routes, self.script, self.every = plain.routes, script, every

    def _respond(self, got: Received) -> Reply:
        if (got.method, got.path) != ("POST", "/runs") or got.headers.get(self.auth_header) != self.auth_value:
            return super()._respond(got)
        steps = self.script(got.json if isinstance(got.json, dict) else {})
        if not steps:
            return Reply(400, {"error": "Bad Request - Invalid parameters"})
        run_id = str(steps[0].run["runId"])
        self.add(run_id, *steps, every=self.every)
        return Reply(201, {"runId": run_id, "status": str(steps[0].run.get("status", "queued"))})


def nunu_run(run_id: str, status: str, **extra: Any) -> dict[str, Any]:
    """A run object as ``GET /runs/{runId}`` answers it."""
    return {"runId": run_id, "name": "Smoke test plan", "projectId": "proj_1", "status": status, **extra}


def nunu_bug(bug_id: str, title: str, severity: str = "major") -> dict[str, Any]:
    return {
        "id": bug_id,
        "title": title,
        "severity": severity,
        "url": f"https://app.nunu.ai/bugs/{bug_id}",
        "createdAt": "2026-02-06T12:05:00Z",
    }


# --- Automated Future (automatedfuture-api.txt): Authorization; base /v1/test; GET /result/{id} -----

AF_PREFIX = "/v1/test"


def _af_result(fake: PlatformFake, m: re.Match[str], got: Received) -> Reply:
    run = fake.run(m["id"])
    if run is None:
        return Reply(404, {"message": "Resource does not exist or belongs to a different team"})
    return Reply(200, {"test_result": run.answered().run})


def automatedfuture(key: str) -> PlatformFake:
    return PlatformFake(("Authorization", key), [(AF_PREFIX + r"/result/(?P<id>[^/]+)", _af_result)])


def af_result(result_id: str, status: str, **extra: Any) -> dict[str, Any]:
    """A test result as ``GET /result/{id}`` answers it (inside ``test_result``)."""
    return {
        "test_result_id": result_id,
        "project_id": "project_abc123",
        "test_run_id": "run_xyz789",
        "test_name": "test_user_login",
        "status": status,
        "error_message": None,
        "metadata": None,
        "started_at": None,
        "finished_at": None,
        "execution_time_ms": None,
        "test_run_label": "Nightly tests",
        **extra,
    }
