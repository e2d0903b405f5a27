"""The real daemon process under hostile clients: the HTTP limits of receiver/daemon/httplimits.py, end to end.

Real sockets against the real ``hookyard serve`` (uvicorn + httptools): a flood of idle,
trickling and oversized-header connections must not keep a signed webhook from its 202,
and each kind is cut off at its bound. The protocol's logic itself is tested in process,
with a fake clock, in tests/test_httplimits.py.
"""

from __future__ import annotations

import resource
import socket
import time
from pathlib import Path

import httpx

from bench.flood import Flood
from tests.helpers import Daemon, stripe_header, wait_for

SECRET = "whsec_serve_limits_91b2"
HEADER_TIMEOUT = 2
CONFIG = f"""
server: {{header_timeout_seconds: {HEADER_TIMEOUT}, body_timeout_seconds: 2, max_header_bytes: 8192}}
storage: {{url: "sqlite:///events.db"}}
rules: []
delivery: {{workers: 0}}
sources:
  - {{id: fusillade, kind: fusillade, secrets: ["{SECRET}"]}}
"""


def post_webhook(url: str, i: int) -> tuple[int, float]:
    body = b'{"event": "test.completed", "data": {"test_id": "flood-%d", "name": "n"}}' % i
    headers = {"X-Fusillade-Signature": stripe_header(SECRET, body, int(time.time()))}
    t0 = time.monotonic()
    with httpx.Client(timeout=30) as client:  # a new connection, as a platform's sender opens one
        r = client.post(url + "/hooks/fusillade", content=body, headers=headers)
    return r.status_code, time.monotonic() - t0


def raw_exchange(port: int, data: bytes, timeout: float = 15) -> tuple[bytes, float]:
    """Send ``data``, then read until the server closes; the answer and the seconds it took."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        t0 = time.monotonic()
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer, time.monotonic() - t0


def test_hostile_clients_are_cut_off_and_a_webhook_still_gets_its_202(tmp_path: Path, daemons: list[Daemon]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    daemon = Daemon(config)
    daemons.append(daemon)
    # Start it with a low soft open-file limit (inherited), as many systems ship: it must raise it.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    try:
        daemon.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert daemon.proc is not None
    # uvicorn is handed a bound socket and names no address itself: the daemon says where it answers.
    assert f"listening url=http://127.0.0.1:{daemon.port}" in daemon.log.read_text()

    with Flood("127.0.0.1", daemon.port, idle=300, trickle=20, oversized=2, trickle_every=0.2) as flood:
        assert wait_for(lambda: flood.open("idle") >= 300 and flood.open("trickle") >= 20, 30), flood.ended
        answers = [post_webhook(daemon.url, i) for i in range(5)]
        assert [status for status, _ in answers] == [202] * 5
        # Within a second: the median of five, so one scheduling hiccup on a loaded machine does not decide.
        assert sorted(seconds for _, seconds in answers)[2] < 1.0, answers
        assert wait_for(lambda: flood.ended[("trickle", "408")] >= 20 and flood.ended[("idle", "closed")] >= 300, 30)
        assert wait_for(lambda: sum(n for (kind, _), n in flood.ended.items() if kind == "oversized") >= 4, 30)

    # Cut off at the bound, not before it (and not minutes after).
    for kind, outcome in (("trickle", "408"), ("idle", "closed")):
        lasted = flood.lasted[(kind, outcome)]
        assert min(lasted) >= HEADER_TIMEOUT * 0.9, (kind, lasted)
        assert max(lasted) < HEADER_TIMEOUT + 10, (kind, lasted)
    # A stream of header bytes is cut once it passes the bound: 431, or a reset if it was still sending.
    assert {outcome for (kind, outcome) in flood.ended if kind == "oversized"} <= {"431", "closed"}

    answer, _ = raw_exchange(daemon.port, b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ") and b'"code":"headers_too_large"' in answer
    half_sent = b"POST /hooks/fusillade HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n{"
    answer, seconds = raw_exchange(daemon.port, half_sent)
    assert answer.startswith(b"HTTP/1.1 408 ") and b'"code":"request_timeout"' in answer
    assert seconds >= 2 * 0.9

    metrics = httpx.get(daemon.url + "/metrics").text
    for reason in ("headers_too_large", "request_timeout", "idle_timeout"):
        assert f'hookyard_connections_refused_total{{reason="{reason}"}}' in metrics, reason
    # The soft open-file limit was raised to the hard one at start.
    limits = Path(f"/proc/{daemon.proc.pid}/limits").read_text()
    (line,) = [x for x in limits.splitlines() if x.startswith("Max open files")]
    raised = hard if hard != resource.RLIM_INFINITY else 65536  # raise_file_limit's cap for "unlimited"
    assert line.split()[3] == str(raised), line
