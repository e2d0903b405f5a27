"""A real, throwaway PostgreSQL server for tests.

The server runs from the distribution's binaries (``/usr/lib/postgresql/<v>/bin``) in a
temp directory, listens on 127.0.0.1 on a free port (its unix socket stays inside the
temp directory), trusts loopback connections and keeps ``fsync`` on: the store tests
check durability semantics, not speed. PostgreSQL refuses to run as root, so as root
the server runs as the ``postgres`` OS user (the Debian package creates it).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from tests.helpers import free_port

_RUN_AS = "postgres"


class PostgresMissing(RuntimeError):
    """The server binaries are not installed."""


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: ``$HOOKYARD_PG_BINDIR``, the newest
    ``/usr/lib/postgresql/*/bin``, or ``PATH``."""
    candidates: list[Path] = []
    if os.environ.get("HOOKYARD_PG_BINDIR"):
        candidates.append(Path(os.environ["HOOKYARD_PG_BINDIR"]))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(p) for p in versions), key=lambda p: _version(p.parent.name), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise PostgresMissing(
        "PostgreSQL server binaries not found (looked in $HOOKYARD_PG_BINDIR, /usr/lib/postgresql/*/bin "
        "and PATH for initdb and pg_ctl); install them, e.g. `apt-get install postgresql`"
    )


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


class PostgresServer:
    """One server: ``start()`` once, ``new_database()`` or ``reset()`` per test, ``stop()`` at the end."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.port = 0
        self.root: Path | None = None
        self._user: pwd.struct_passwd | None = None

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hookyard-pg-"))
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam(_RUN_AS)
            except KeyError as exc:
                raise PostgresMissing(
                    f"running as root, PostgreSQL needs an unprivileged OS user {_RUN_AS!r} to run as"
                ) from exc
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        (self.root / "sock").mkdir()
        if self._user is not None:
            os.chown(self.root / "sock", self._user.pw_uid, self._user.pw_gid)
        data = self.root / "data"
        self._run(
            "initdb",
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        # A free port can be taken between probing and binding: try a few.
        for _ in range(5):
            self.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root / 'sock'} "
                "-c fsync=on -c synchronous_commit=on -c max_connections=200"
            )
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(data),
                    "-l",
                    str(self.root / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                )
                return
            except RuntimeError:
                if "could not bind" not in self.log():
                    raise
        raise RuntimeError("PostgreSQL could not bind a free port:\n" + self.log())

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            if (self.root / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def log(self) -> str:
        path = self.root / "server.log" if self.root else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def new_database(self) -> str:
        """A fresh empty database; returns its URL."""
        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def reset(self, url: str) -> None:
        """Empty a database the store created its tables in: as fresh as a new one, much faster."""
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self._user is not None:
            cmd = ["runuser", "-u", self._user.pw_name, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n{self.log()}")
