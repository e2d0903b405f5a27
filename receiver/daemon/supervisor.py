"""``server.processes`` > 1: receiver processes and one dispatcher process.

One Python process uses one core. With ``processes: N`` the ``serve`` process binds the
listening socket and supervises N - 1 receiver processes accepting on it (the kernel
spreads connections between them) plus one dispatcher process that sends every
delivery, so per-sink rate limits and circuit breakers stay in one place, and a burst of
deliveries never takes CPU from acknowledging webhooks. They share the store: SQLite
lets one writer commit at a time (each process's group commit waits for the lock
without blocking its event loop); PostgreSQL serves them all.

SIGHUP reloads sources and rules in every child; ``server.processes`` itself (and the
rest of ``server:``) takes effect at the next start.

The supervisor runs the migrations once before starting anyone, restarts a child that
dies, forwards SIGHUP (reload) to all of them, and on SIGINT/SIGTERM stops them all
(each finishes what it acknowledged). Children exit when the supervisor is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

import uvicorn

from receiver.config import Config, load_config
from receiver.delivery.wakeup import WakeupListener, WakeupSender
from receiver.store import prepare_store

log = logging.getLogger("hookyard.workers")

DISPATCHER = "dispatcher"
STOP_GRACE_SECONDS = 30.0
# A child that dies sooner than this after starting is crash-looping: wait before the next try.
MIN_UPTIME_SECONDS = 5.0
RESTART_BACKOFF_SECONDS = 2.0

_spawn = multiprocessing.get_context("spawn")


def run(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
    processes: int | None = None,
) -> None:
    """Run the daemon: in this process, or with ``server.processes`` > 1 as the supervisor of
    that many processes."""
    from receiver.daemon import serve

    processes = processes or config.server.processes
    sock = serve.listen(config, host, port)
    if processes == 1:
        serve.run(config, sock, log_level=log_level)
        return
    sock.close()  # the supervisor binds its own shared socket
    run_workers(config, receivers=processes - 1, host=host, port=port, log_level=log_level)


def run_workers(
    config: Config, *, receivers: int, host: str | None = None, port: int | None = None, log_level: str = "info"
) -> None:
    asyncio.run(prepare_store(config))  # once, before any child starts
    bind = uvicorn.Config(
        app="receiver", host=host or config.server.host, port=port if port is not None else config.server.port
    )
    sock = bind.bind_socket()
    runtime = Path(tempfile.mkdtemp(prefix="hookyard-"))
    metrics_dir = runtime / "metrics"
    metrics_dir.mkdir()
    # Every process counts into files here; /metrics, answered by any of them, sums them.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    supervisor = Supervisor(config.path, sock, str(runtime / "wake.sock"), receivers, log_level)
    try:
        supervisor.run()
    finally:
        sock.close()
        shutil.rmtree(runtime, ignore_errors=True)


class Supervisor:
    def __init__(self, config_path: Path, sock: socket.socket, wake_path: str, receivers: int, log_level: str) -> None:
        self.config_path = config_path
        self.sock = sock
        self.wake_path = wake_path
        self.names = [DISPATCHER] + [f"receiver-{i}" for i in range(1, receivers + 1)]
        self.log_level = log_level
        self.children: dict[str, BaseProcess] = {}
        self.started: dict[str, float] = {}
        self.stopping = False

    def run(self) -> None:
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGHUP, self._forward)
        host, port = self.sock.getsockname()[:2]
        receivers = len(self.names) - 1
        log.info("serving on %s:%s with %d receiver process(es) and a dispatcher process", host, port, receivers)
        for name in self.names:
            self._start(name)
        while not self.stopping:
            time.sleep(0.2)
            for name, proc in list(self.children.items()):
                if not proc.is_alive() and not self.stopping:
                    self._restart(name, proc)
        self._shutdown()

    def _start(self, name: str) -> None:
        proc = _spawn.Process(
            target=child_main,
            name=f"hookyard-{name}",
            kwargs={
                "role": DISPATCHER if name == DISPATCHER else "receiver",
                "config_path": self.config_path,
                "sock": None if name == DISPATCHER else self.sock,
                "wake_path": self.wake_path,
                "log_level": self.log_level,
                "parent_pid": os.getpid(),
            },
        )
        proc.start()
        self.children[name] = proc
        self.started[name] = time.monotonic()

    def _restart(self, name: str, proc: BaseProcess) -> None:
        log.error("%s (pid %s) exited with %s; starting it again", name, proc.pid, proc.exitcode)
        if proc.pid is not None:
            _forget_metrics_of(proc.pid)
        if time.monotonic() - self.started[name] < MIN_UPTIME_SECONDS:
            time.sleep(RESTART_BACKOFF_SECONDS)
        if not self.stopping:
            self._start(name)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        for proc in self.children.values():
            if proc.pid is not None and proc.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)

    def _shutdown(self) -> None:
        # Receivers first: the dispatcher keeps sending until nobody stores new work.
        order = [n for n in self.names if n != DISPATCHER] + [DISPATCHER]
        for group in (order[:-1], order[-1:]):
            procs = [self.children[n] for n in group if n in self.children]
            for proc in procs:
                if proc.pid is not None and proc.is_alive():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for proc in procs:
                proc.join(max(0.0, deadline - time.monotonic()))
                if proc.is_alive():
                    log.error("%s did not stop in %.0f s; killing it", proc.name, STOP_GRACE_SECONDS)
                    proc.kill()
                    proc.join()


def _forget_metrics_of(pid: int) -> None:
    from prometheus_client import multiprocess

    with contextlib.suppress(OSError):
        multiprocess.mark_process_dead(pid)


# -- in the child processes ---------------------------------------------------------------
def child_main(
    role: str, config_path: Path, sock: socket.socket | None, wake_path: str, log_level: str, parent_pid: int
) -> None:
    from receiver.daemon.serve import configure_logging

    configure_logging(log_level)
    _exit_with_parent(parent_pid)
    config = load_config(config_path)
    configure_logging(log_level, config.server.log_format)
    if role == DISPATCHER:
        asyncio.run(_dispatch(config, wake_path))
        return
    from receiver.app import create_app
    from receiver.daemon.serve import serve_app, uvicorn_config

    assert sock is not None
    sender = WakeupSender(wake_path)
    app = create_app(config, deliver=False, wake=sender.notify)
    serve_app(app, uvicorn_config(app, config, log_level=log_level), sock)


async def _dispatch(config: Config, wake_path: str) -> None:
    """The dispatcher process: the app's lifespan (store, sinks, rules reload) without HTTP."""
    from receiver.app import create_app
    from receiver.daemon.serve import tune_gc

    app = create_app(config, deliver=True)
    stop = asyncio.Event()
    app.hookyard.on_fatal = stop.set  # the store stopped working: exit non-zero (below), to be restarted
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(wake_path)  # left by a dispatcher that died
    listener = WakeupListener(wake_path, app.hookyard.dispatcher.notify)
    tune_gc()
    async with app.router.lifespan_context(app):
        listener.start()
        await stop.wait()
        listener.close()
    if app.hookyard.fatal is not None:
        raise SystemExit(1)


def _exit_with_parent(parent_pid: int) -> None:
    """Stop this child (gracefully, as on SIGTERM) if the supervisor disappears."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="hookyard-parent-watch", daemon=True).start()
