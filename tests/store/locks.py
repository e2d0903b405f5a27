"""Another process holding the SQLite write lock, as an operator's ``sqlite3`` shell left in a
transaction (or a long VACUUM) would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_HOLD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
conn.execute("COMMIT")
"""


class HeldLock:
    """``with HeldLock(db):`` another process holds the write lock of ``db`` until the block
    ends (or ``release()``)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> HeldLock:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(self.db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line == b"locked\n", f"the lock holder did not get the lock: {line!r}"
        return self

    def release(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
            self.proc = None

    def __exit__(self, *exc: object) -> None:
        self.release()
