"""Opening a store that cannot be opened: one typed error, one line, no credentials, in bounded time."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from receiver.errors import HookyardError, StoreUnavailable
from receiver.store import open_store
from tests.helpers import assert_no_secret, free_port
from tests.pg import PostgresServer
from tests.store.test_contract import event

PASSWORD = "pw-s3cret-do-not-log"


def _dangling_symlink(tmp: Path) -> Path:
    (tmp / "data").symlink_to(tmp / "gone")  # e.g. a volume that is not mounted
    return tmp / "data" / "hookyard.db"


def _under_a_file(tmp: Path) -> Path:
    (tmp / "data").write_text("not a folder")
    return tmp / "data" / "hookyard.db"


def _a_folder(tmp: Path) -> Path:
    (tmp / "hookyard.db").mkdir()
    return tmp / "hookyard.db"


def _read_only_filesystem(tmp: Path) -> Path:
    return Path("/sys/hookyard-test/hookyard.db")  # sysfs refuses new folders, even to root


@pytest.mark.parametrize(
    ("where", "says"),
    [
        (_dangling_symlink, "data is a symlink to {tmp}/gone, which does not exist"),
        (_under_a_file, "{tmp}/data is not a folder"),
        (_a_folder, "it is a folder, not a database file"),
        (_read_only_filesystem, "/sys/hookyard-test"),
    ],
)
def test_an_sqlite_store_that_cannot_be_opened_says_why_in_one_line(
    tmp_path: Path, where: Callable[[Path], Path], says: str
) -> None:
    db = where(tmp_path)
    store = open_store(f"sqlite:///{db}")
    with pytest.raises(StoreUnavailable) as failed:
        asyncio.run(store.open())
    message = str(failed.value)
    assert isinstance(failed.value, HookyardError)
    assert message.startswith(f"cannot open the SQLite store {db}: ")
    assert says.format(tmp=tmp_path) in message
    assert "\n" not in message and "Traceback" not in message


def test_an_unreachable_postgresql_is_one_line_within_the_bound_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()  # nothing listens there
    store = open_store(f"postgresql://hookyard:{PASSWORD}@127.0.0.1:{port}/hookyard", connect_timeout=1.5)
    caplog.set_level(logging.DEBUG)
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable) as failed:
        asyncio.run(asyncio.wait_for(store.open(), 30))
    waited = time.monotonic() - t0
    message = str(failed.value)
    assert waited >= 1.0  # it kept trying (the server may still be starting) ...
    assert waited < 15  # ... but not for ever
    assert message.startswith(f"cannot connect to PostgreSQL at postgresql://hookyard:<redacted>@127.0.0.1:{port}/")
    assert "within 1.5 s" in message and "\n" not in message
    assert "not reachable yet" in caplog.text  # the retries are visible
    assert_no_secret([message, caplog.text], [PASSWORD])


class _Forwarder:
    """A TCP forwarder to the real server that can come up late and go away (a server that
    starts while the daemon does, or restarts while it runs)."""

    def __init__(self, port: int, target: int) -> None:
        self.port = port
        self.target = target
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


def test_postgresql_that_comes_up_during_the_bound_is_waited_for(pg_server: PostgresServer) -> None:
    url = pg_server.new_database()
    port = free_port()
    late_url = url.replace(f":{pg_server.port}/", f":{port}/")

    async def main() -> None:
        forwarder = _Forwarder(port, pg_server.port)
        starting = asyncio.ensure_future(forwarder.start(delay=1.0))
        store = open_store(late_url, connect_timeout=20)
        t0 = time.monotonic()
        await asyncio.wait_for(store.open(), 30)
        assert time.monotonic() - t0 >= 0.9  # it was not there at first
        try:
            assert (await store.save_event(event("evt_1"))).duplicate is False
        finally:
            await store.close()
            await starting
            await forwarder.stop()

    asyncio.run(main())


def test_serve_reports_a_store_it_cannot_open_before_it_starts_listening(tmp_path: Path) -> None:
    (tmp_path / "data").symlink_to(tmp_path / "not-mounted")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("storage: {url: 'sqlite:///data/h.db'}\nrules: []\n")
    done = subprocess.run(
        [sys.executable, "-m", "receiver", "serve", "--config", str(cfg), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1
    assert (
        f"cannot open the SQLite store {tmp_path}/data/h.db: {tmp_path}/data is a symlink to "
        f"{tmp_path}/not-mounted, which does not exist"
    ) in out
    assert "Application startup" not in out  # refused before uvicorn starts, not as a lifespan traceback


def test_postgresql_gone_while_running_is_store_unavailable_not_an_error_500(pg_server: PostgresServer) -> None:
    url = pg_server.new_database().replace("postgres@", f"postgres:{PASSWORD}@")  # trust auth ignores it
    port = free_port()

    async def main() -> None:
        forwarder = _Forwarder(port, pg_server.port)
        await forwarder.start()
        store = open_store(url.replace(f":{pg_server.port}/", f":{port}/"), busy_timeout=1.0)
        await store.open()
        try:
            assert (await store.save_event(event("evt_1"))).duplicate is False
            await forwarder.stop()  # the server goes away, its connections with it
            for attempt in ("the pooled connection", "a new connection"):
                with pytest.raises(StoreUnavailable) as gone:
                    await asyncio.wait_for(store.save_event(event("evt_2")), 30)
                assert gone.value.status == 503 and "\n" not in str(gone.value), attempt
                assert_no_secret([str(gone.value)], [PASSWORD])
        finally:
            await store.close()

    asyncio.run(main())
